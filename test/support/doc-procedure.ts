import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, type RunResult, run } from './processes.ts';

/**
 * The auditor's procedure exactly as docs/verifying-evidence.md writes it: every fenced block
 * that follows a `<!-- verify-procedure -->` comment, in order, run with bash. The document stays
 * the single source: a test that passes runs the very commands an auditor is told to type.
 */

export const VERIFYING_EVIDENCE_DOC = path.join(ROOT, 'docs/verifying-evidence.md');

const MARKED_BLOCK = /<!-- verify-procedure -->\s*\n```(?:sh|bash)\n([\s\S]*?)\n```/g;

/** The marked blocks' text, in document order. */
export function procedureBlocks(doc = VERIFYING_EVIDENCE_DOC): string[] {
  return [...readFileSync(doc, 'utf8').matchAll(MARKED_BLOCK)].map((match) => match[1]!);
}

/** What the procedure needs besides bash; a machine without one fails saying which. */
const TOOLS = ['jq', 'openssl', 'python3', 'sha256sum'];
const REQUIRE_TOOLS = `for tool in ${TOOLS.join(' ')}; do command -v "$tool" >/dev/null || { echo "the procedure needs $tool, which is not installed" >&2; exit 127; }; done`;

export interface EvidenceFiles {
  /** The directory the blocks run in (they write signed.json and signature.der there). */
  readonly cwd: string;
  readonly file: string;
  readonly manifest: string;
  readonly key: string;
}

/** Runs one block (or all of them, joined) with the document's variables set; stops at the first failure. */
export function runProcedure(script: string, files: EvidenceFiles): Promise<RunResult> {
  // LC_ALL=C: the procedure must not depend on the auditor's locale for UTF-8 text.
  return run(
    'bash',
    ['-euo', 'pipefail', '-c', `${REQUIRE_TOOLS}\ncd "$EVIDENCE_DIR"\n${script}`],
    { EVIDENCE_DIR: files.cwd, FILE: files.file, MANIFEST: files.manifest, KEY: files.key, LC_ALL: 'C' },
    60_000,
  );
}
