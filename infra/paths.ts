import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the CDK app finds the repository's files. The repository root is the nearest folder,
 * from the working directory up, that holds `cdk.json`: `cdk synth`, `npm test` and jest all run
 * from inside the repository. (No `import.meta` here: jest loads this module as CommonJS.)
 */
export function findRepoRoot(start: string = process.cwd()): string {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, 'cdk.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(
        `No cdk.json found in ${start} or any folder above it; run the CDK app from the repository.`,
      );
    }
    dir = parent;
  }
}

/** The Lambda handlers under functions/handlers/ that the stack deploys. */
export type HandlerName =
  | 'api'
  | 'authorizer'
  | 'scheduled'
  | 'workflow/prepare'
  | 'workflow/export-page'
  | 'workflow/render-report'
  | 'workflow/finalize'
  | 'workflow/deliver'
  | 'workflow/record-audit'
  | 'workflow/mark-failed';

/** Absolute paths the NodejsFunction constructs need, resolved once per call. */
export interface ProjectPaths {
  /** The repository root (the folder holding cdk.json and package.json). */
  readonly root: string;
  /** package-lock.json: esbuild bundles against the locked dependency tree. */
  readonly lockFile: string;
  /** The entry file of a handler, `functions/handlers/<name>.ts` (`workflow/<step>` is in a subfolder). */
  handlerEntry(name: HandlerName): string;
}

export function projectPaths(root: string = findRepoRoot()): ProjectPaths {
  return {
    root,
    lockFile: path.join(root, 'package-lock.json'),
    handlerEntry: (name) => path.join(root, 'functions', 'handlers', ...`${name}.ts`.split('/')),
  };
}
