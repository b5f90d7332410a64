import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type BodyServer, startBodyServer } from '../../support/body-server.ts';
import { event, jsonLines, tempDir } from './helpers.ts';

/**
 * The real `kt` executable (cli/bin/kt.js → tsx → cli/main.ts) run as a child process: commander
 * 15 is ESM-only and cannot be loaded by jest's CommonJS runtime, and this also covers the bin.
 */
const KT = join(__dirname, '..', '..', '..', 'cli', 'bin', 'kt.js');
const TOKEN = 'kt_secret_token_for_tests';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function kt(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const base = { ...process.env };
  for (const key of ['KEEPTRUSTS_API_URL', 'KEEPTRUSTS_API_TOKEN', 'KEEPTRUSTS_AUTH', 'KT_DEBUG', 'CI'])
    delete base[key];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [KT, ...args],
      { env: { ...base, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** stderr holds exactly one line, an `error: ...` line without a stack trace. */
function expectOneErrorLine(run: Run): string {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('kt: help and usage errors', () => {
  it('prints help with examples and exits 0', async () => {
    const run = await kt(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: kt \[options\] \[command\]/);
    expect(run.stdout).toContain('events');
    expect(run.stdout).toContain('$ kt events import --file events.jsonl');
    expect(run.stderr).toBe('');
  });

  it('shows the import help with an example and the global options', async () => {
    const run = await kt(['events', 'import', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: kt events import [options]');
    expect(run.stdout).toContain('--batch-size <n>');
    expect(run.stdout).toContain('-o, --output-format <format>');
    expect(run.stdout).toContain('$ kt events import --file events.jsonl');
  });

  it('prints the version from package.json', async () => {
    const run = await kt(['--version']);
    expect(run).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it.each([
    [
      ['events', 'import'],
      "error: required option '-f, --file <path>' not specified (see 'kt events import --help')",
    ],
    [
      ['events', 'import', '--file', 'x.jsonl', '--bogus'],
      "error: unknown option '--bogus' (see 'kt events import --help')",
    ],
    [
      ['events', 'import', '--file', 'x.jsonl', '--batch-sze', '5'],
      "error: unknown option '--batch-sze' (Did you mean --batch-size?) (see 'kt events import --help')",
    ],
    [['events', 'impor'], "error: unknown command 'impor' (Did you mean import?) (see 'kt events --help')"],
    [
      ['events', 'import', '--file', 'x.jsonl', '--batch-size', '501'],
      "error: option '--batch-size <n>' argument '501' is invalid. Must be a whole number from 1 to 500. (see 'kt events import --help')",
    ],
    [
      ['-o', 'yaml', 'events', 'import', '--file', 'x.jsonl'],
      "error: option '-o, --output-format <format>' argument 'yaml' is invalid. Allowed choices are human, json. (see 'kt --help')",
    ],
  ])('kt %j is a usage error: exit 2, one line', async (args, line) => {
    const run = await kt(args);
    expect(run.code).toBe(2);
    expect(expectOneErrorLine(run)).toBe(line);
    expect(run.stdout).toBe('');
  });

  it('exits 2 with help on stderr when a group is run without a subcommand', async () => {
    const run = await kt(['events']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: kt events [options] [command]');
    expect(run.stdout).toBe('');
  });
});

describe('kt events import: local failures', () => {
  it('exits 1 with one line for a missing file', async () => {
    const missing = dir.path('missing.jsonl');
    const run = await kt(['events', 'import', '--file', missing], { KEEPTRUSTS_API_TOKEN: TOKEN });
    expect(run.code).toBe(1);
    expect(expectOneErrorLine(run)).toBe(`error: cannot read ${missing}: no such file`);
  });

  it('exits 1 with one line for an empty file and for malformed JSON', async () => {
    const empty = await kt(['events', 'import', '--file', dir.write('empty.jsonl', '')], {
      KEEPTRUSTS_API_TOKEN: TOKEN,
    });
    expect(empty.code).toBe(1);
    expect(expectOneErrorLine(empty)).toMatch(/empty\.jsonl is empty/);

    const malformed = dir.write('malformed.jsonl', `${JSON.stringify(event(1))}\n{"id":\n`);
    const run = await kt(['events', 'import', '--file', malformed, '--dry-run']);
    expect(run.code).toBe(1);
    expect(expectOneErrorLine(run)).toMatch(/malformed\.jsonl: line 2 is not valid JSON/);
  });

  it('exits 4 before reading further when no token is configured', async () => {
    const file = dir.write('ok.jsonl', jsonLines([event(1)]));
    const run = await kt(['events', 'import', '--file', file]);
    expect(run.code).toBe(4);
    expect(expectOneErrorLine(run)).toBe('error: no API token: set KEEPTRUSTS_API_TOKEN (or pass --token)');
  });

  it('lists invalid events, uploads nothing and exits 1', async () => {
    const values: unknown[] = Array.from({ length: 30 }, (_, i) => event(i));
    for (const i of [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20])
      values[i] = event(i, { timestamp: 'yesterday' });
    const file = dir.write('invalid.jsonl', jsonLines(values));
    const run = await kt(['events', 'import', '--file', file], {
      KEEPTRUSTS_API_TOKEN: TOKEN,
      KEEPTRUSTS_API_URL: 'http://127.0.0.1:1', // would fail loudly if anything were sent
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe('line 3: timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z');
    expect(lines[10]).toBe('... and 2 more invalid events');
    expect(lines[11]).toBe(`error: 12 of 30 events in ${file} are invalid; nothing was uploaded`);
    expect(run.stdout).toBe('');

    const json = await kt(['events', 'import', '--file', file, '-o', 'json', '--dry-run']);
    expect(json.code).toBe(1);
    expect(expectOneErrorLine(json)).toBe(
      `error: 12 of 30 events in ${file} are invalid; nothing was uploaded`,
    );
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ imported: 0, file, events: 30, invalid: 12 });
    expect(report.problems).toHaveLength(10);
    expect(report.problems[0]).toEqual({
      line: 3,
      errors: [
        { field: 'timestamp', rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z' },
      ],
    });
  });

  it('treats an empty --file as a usage error', async () => {
    const run = await kt(['events', 'import', '--file', '']);
    expect(run.code).toBe(2);
    expect(expectOneErrorLine(run)).toBe('error: --file must name a file of decision events');
  });

  it('validates only with --dry-run and needs no token', async () => {
    const file = dir.write('dry.json', JSON.stringify([event(1), event(2), event(1)]));
    const human = await kt(['events', 'import', '--file', file, '--dry-run']);
    expect(human).toEqual({
      code: 0,
      stdout: `✓ Validated 2 events in ${file} (nothing uploaded)\n`,
      stderr: '',
    });
    const json = await kt(['events', 'import', '--file', file, '--dry-run', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ validated: 2, file, dryRun: true });
  });
});

describe('kt events import against an API', () => {
  let server: BodyServer;
  let apiUrl: string;
  const stored = new Set<string>();
  let requests = 0;
  let mode: 'ok' | 'unauthorized' | 'flaky' = 'ok';
  const failures = new Map<string, number>();

  beforeAll(async () => {
    server = await startBodyServer((req, res, body) => {
      requests += 1;
      if (mode === 'unauthorized' || req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'Unauthorized',
            status: 401,
            detail: 'The API token is missing, malformed, unknown or revoked.',
          }),
        );
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/events') {
        res.writeHead(404).end();
        return;
      }
      const { events } = JSON.parse(body) as { events: { id: string }[] };
      if (events.length > 500) {
        res.writeHead(400, { 'content-type': 'application/problem+json' }).end('{"title":"too many"}');
        return;
      }
      const failed: { id: string; reason: string }[] = [];
      for (const e of events) {
        const n = failures.get(e.id) ?? 0;
        if (mode === 'flaky' && e.id.endsWith('7') && n < 2) {
          failures.set(e.id, n + 1);
          failed.push({ id: e.id, reason: 'throttled' });
        } else {
          stored.add(e.id);
        }
      }
      res.writeHead(failed.length > 0 ? 207 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: events.length, written: events.length - failed.length, failed }));
    });
    apiUrl = server.url;
  });

  afterAll(() => server.close());

  beforeEach(() => {
    stored.clear();
    failures.clear();
    requests = 0;
    mode = 'ok';
  });

  const file = () => dir.write('upload.jsonl', jsonLines(Array.from({ length: 1200 }, (_, i) => event(i))));

  it('imports every event and prints the count with thousands separators', async () => {
    const run = await kt(['events', 'import', '--file', file()], {
      KEEPTRUSTS_API_TOKEN: TOKEN,
      KEEPTRUSTS_API_URL: apiUrl,
    });
    expect(run).toEqual({ code: 0, stdout: '✓ Imported 1,200 events (1,200 new, 0 already stored)\n', stderr: '' });
    expect(stored.size).toBe(1200);
    expect(requests).toBe(3);
  });

  it('resends events a 207 reports as failed and prints JSON for scripts', async () => {
    mode = 'flaky';
    const path = file();
    const run = await kt(
      ['--api-url', apiUrl, 'events', 'import', '--file', path, '--batch-size', '400', '-o', 'json'],
      {
        KEEPTRUSTS_API_TOKEN: TOKEN,
      },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ imported: 1200, new: 1200, alreadyStored: 0, conflicts: [], file: path });
    expect(stored.size).toBe(1200);
    expect(requests).toBe(9); // 3 batches of 400, each resent twice for its throttled ids
  });

  it('exits 4 with one line when the API refuses the token, and never prints it', async () => {
    mode = 'unauthorized';
    const run = await kt(['events', 'import', '--file', file(), '--token', TOKEN], {
      KEEPTRUSTS_API_URL: apiUrl,
      KT_DEBUG: '1',
    });
    expect(run.code).toBe(4);
    expect(run.stderr.split('\n')[0]).toBe(
      'error: the API refused the token (401): The API token is missing, malformed, unknown or revoked. Check KEEPTRUSTS_API_TOKEN.',
    );
    expect(run.stderr).toMatch(/^\s+at /m); // KT_DEBUG=1 adds the stack
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('names the URL and suggests npm start when nothing listens there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const run = await kt(['events', 'import', '--file', file()], {
      KEEPTRUSTS_API_TOKEN: TOKEN,
      KEEPTRUSTS_API_URL: url,
    });
    expect(run.code).toBe(1);
    expect(expectOneErrorLine(run)).toBe(
      `error: cannot reach the Keeptrusts API at ${url} (connection refused). Is it running? Start the local stack with \`npm start\`, or set KEEPTRUSTS_API_URL.`,
    );
  });
});
