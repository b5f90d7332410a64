import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port.ts';

// Tests and benchmarks run from the repository root (jest's rootDir, npm scripts).
export const ROOT = process.cwd();
const TSX_CLI = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const KT_BIN = path.join(ROOT, 'cli/bin/kt.js');

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `kt` binary (cli/bin/kt.js) on the Node that runs the tests; no TTY. */
export function runKt(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): Promise<RunResult> {
  return run(process.execPath, [KT_BIN, ...args], env, timeoutMs);
}

export function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `npm start`'s entry point to its end (for starts that must fail), capturing its output. */
export function runLocalStackEntry(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<RunResult> {
  return run(process.execPath, [TSX_CLI, 'infra/local/main.ts'], env, timeoutMs);
}

export interface StartedStack {
  readonly process: ChildProcess;
  /** The environment it was started with (its ports: PORT, KT_DYNAMODB_PORT, KT_S3_PORT). */
  readonly env: NodeJS.ProcessEnv;
  readonly output: () => string;
  readonly apiUrl: string;
  readonly token: string;
  stop(): Promise<number | null>;
}

/** Starts `npm start`'s entry point as a child process and waits until it says it is running. */
export function startLocalStackProcess(env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<StartedStack> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, 'infra/local/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`local stack did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('Press Ctrl-C to stop.')) return;
      clearTimeout(timer);
      const apiUrl = output.match(/export KEEPTRUSTS_API_URL="([^"]+)"/)?.[1];
      const token = bannerToken(output, env);
      if (!apiUrl || !token) return reject(new Error(`unexpected start output:\n${output}`));
      resolve({
        process: child,
        env,
        output: () => output,
        apiUrl,
        token,
        stop: async () => {
          child.kill('SIGINT');
          return exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`local stack exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/**
 * The admin token a started stack gives the CLI. Only the start that creates it prints it; later
 * starts print `export KEEPTRUSTS_API_TOKEN="$(cat <data dir>/admin-token)"`, so the file is read,
 * as a user's shell would; a token registered from the environment is the environment's.
 */
function bannerToken(output: string, env: NodeJS.ProcessEnv): string | undefined {
  const printed = output.match(/export KEEPTRUSTS_API_TOKEN="(kt_[^"]+)"/)?.[1];
  if (printed !== undefined) return printed;
  const file = output.match(/export KEEPTRUSTS_API_TOKEN="\$\(cat '?([^')]+)'?\)"/)?.[1];
  if (file !== undefined) return readFileSync(path.resolve(ROOT, file), 'utf8').trim();
  return env.KEEPTRUSTS_API_TOKEN || undefined;
}

/** How often startFreshStack picks new ports when one it picked was taken before the stack bound it. */
const PORT_ATTEMPTS = 3;

/**
 * `npm start` as each end-to-end test wants it: free ports, a new data dir under `root`, no demo
 * events, no request log, a new admin token; `extra` adds or overrides settings. A port that was
 * free when picked can be taken by a test running alongside before the stack binds it: the start
 * then fails naming the port, and is tried again on new ports.
 */
export async function startFreshStack(root: string, extra: NodeJS.ProcessEnv = {}): Promise<StartedStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLocalStackProcess({
        PORT: String(await freePort()),
        KT_DYNAMODB_PORT: String(await freePort()),
        KT_S3_PORT: String(await freePort()),
        KT_DATA_DIR: path.join(root, 'data'),
        KT_DEMO_EVENTS: '0',
        KEEPTRUSTS_API_TOKEN: '',
        KT_LOG_REQUESTS: '0',
        ...extra,
      });
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !/port \d+ for .* is already in use/.test(String(error))) throw error;
    }
  }
}

/** The real `kt` pointed at a started stack, as tutorial Step 1's two exports point it. */
export function ktFor(stack: StartedStack): (args: readonly string[]) => Promise<RunResult> {
  return (args) => runKt(args, { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token });
}
