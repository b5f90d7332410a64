import { existsSync, readFileSync } from 'node:fs';
import { type RunResult, runKt } from '../../support/processes.ts';
import {
  type FakeApi,
  ID,
  jobView,
  manifestView,
  sendJson,
  sha256,
  startFakeApi,
  TOKEN,
} from './export-fixtures.ts';
import { tempDir } from './helpers.ts';

/**
 * `kt export` through the real executable: commander's parsing of the flags (names, choices,
 * required options, camelCase mapping) and the exit codes a shell sees. Runs are concurrent to
 * keep the file fast; everything else is tested by calling the actions directly.
 */

// Empty values count as unset, so the developer's own environment cannot leak into a run.
const CLEAN = { KEEPTRUSTS_API_URL: '', KEEPTRUSTS_API_TOKEN: '', KEEPTRUSTS_AUTH: '', KT_DEBUG: '' };
const kt = (args: readonly string[], env: Record<string, string> = {}) =>
  runKt(args, { ...CLEAN, ...env }, 60_000);

function oneErrorLine(run: RunResult): string {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

const RANGE = ['--from', '2026-04-16T00:00:00Z', '--to', '2026-04-23T23:59:59Z'];
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('kt export: usage errors exit 2 with one line, before any token is needed', () => {
  it.concurrent.each([
    [
      ['export', 'create', ...RANGE],
      "error: required option '--format <format>' not specified (see 'kt export create --help')",
    ],
    [
      ['export', 'create', ...RANGE, '--format', 'xml'],
      "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are json, csv, pdf. (see 'kt export create --help')",
    ],
    [
      ['export', 'create', '--from', 'yesterday', '--to', '2026-04-23T23:59:59Z', '--format', 'json'],
      'error: --from must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (got "yesterday")',
    ],
    [
      ['export', 'create', ...RANGE, '--format', 'csv', '--team', 'eng', '--filter-team', 'ops'],
      'error: --filter-team and --team are the same filter; give it once (got "ops" and "eng")',
    ],
    [
      ['export', 'status', '--id', 'exp_abc123'],
      'error: --id must be an export id: exp_ and 20 characters of 0-9 and a-z without i, l, o, u, such as exp_01jq8m3k7b5x9c2d4f6h (got "exp_abc123")',
    ],
    [
      ['export', 'verify', '--public-key', 'key.pem'],
      "error: required option '--file <path>' not specified (see 'kt export verify --help')",
    ],
    [
      ['export', 'cancel'],
      "error: required option '--id <id>' not specified (see 'kt export cancel --help')",
    ],
    [
      ['export', 'list', '--limit', '101'],
      "error: option '--limit <n>' argument '101' is invalid. Must be a whole number from 1 to 100. (see 'kt export list --help')",
    ],
  ])('kt %j', async (args, line) => {
    const run = await kt(args);
    expect(oneErrorLine(run)).toBe(line);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });
});

describe('kt export: help and local checks', () => {
  it.concurrent.each([
    [['export', '--help'], 'Usage: kt export [options] [command]', '$ kt export create --from'],
    [['export', 'create', '--help'], '--filter-policy <name>', '  Status: queued'],
    [
      ['export', 'download', '--help'],
      '--force',
      `$ kt export download --id ${ID} --output compliance-report.json`,
    ],
    [
      ['export', 'download', '--help'],
      '--no-manifest',
      '✓ Saved manifest to compliance-report.json.manifest.json',
    ],
    [
      ['export', 'verify', '--help'],
      '--public-key <path>',
      '$ kt export verify --file compliance-report.json --public-key key.pem',
    ],
    [['export', 'cancel', '--help'], '--id <id>', `$ kt export cancel --id ${ID}\n  ✓ Export ${ID} cancelled`],
  ])('kt %j shows its options and an example', async (args, option, example) => {
    const run = await kt(args);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(option);
    expect(run.stdout).toContain(example);
  });

  it.concurrent('refuses to overwrite a file without --force: exit 1, one line, file kept', async () => {
    const target = dir.write('kept.json', 'keep me');
    const run = await kt(['export', 'download', '--id', ID, '--output', target]);
    expect(run.code).toBe(1);
    expect(oneErrorLine(run)).toBe(`error: ${target} already exists; pass --force to overwrite it`);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
  });
});

describe('kt export against an API', () => {
  let api: FakeApi;
  const failure = 'the event store was unavailable for 10 minutes';
  const artifact = 'id,timestamp\nevt_1,2026-04-20T09:15:32Z\n';

  beforeAll(async () => {
    api = await startFakeApi();
    api.route('POST /v1/exports', (_req, res, body) => {
      const { format, title, filters } = JSON.parse(body);
      sendJson(res, 202, jobView({ status: 'queued', format, title, filters, records: 0, bytes: undefined }));
    });
    // A job that has already failed by the first poll.
    api.route(`GET /v1/exports/${ID}`, (_req, res) =>
      sendJson(
        res,
        200,
        jobView({ status: 'failed', records: 0, bytes: undefined, error: { reason: failure } }),
      ),
    );
    api.route('GET /v1/exports', (_req, res) => sendJson(res, 200, { exports: [jobView()], cursor: 'c2' }));
    api.route(`GET /v1/exports/${ID}/download`, (_req, res) =>
      sendJson(res, 200, {
        url: `${api.url}/store/a.csv?X-Amz-Signature=s`,
        expires: '2026-04-23T14:35:00Z',
        filename: 'a.csv',
        bytes: Buffer.byteLength(artifact),
        sha256: sha256(artifact),
        contentType: 'text/csv',
      }),
    );
    api.route(`GET /v1/exports/${ID}/manifest`, (_req, res) =>
      sendJson(res, 200, manifestView({ bytes: Buffer.byteLength(artifact), sha256: sha256(artifact) })),
    );
    api.route('GET /store/a.csv', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end(artifact);
    });
  });
  afterAll(() => api.close());

  const env = () => ({ KEEPTRUSTS_API_URL: api.url, KEEPTRUSTS_API_TOKEN: TOKEN });

  it.concurrent('sends the tutorial flags and their aliases, and prints one JSON document', async () => {
    const run = await kt(
      [
        'export',
        'create',
        ...RANGE,
        '--format',
        'csv',
        '--policy',
        'pii-redaction',
        '--filter-team',
        'engineering',
        '--title',
        'Q2 report',
        '--idempotency-key',
        'run-42',
        '-o',
        'json',
      ],
      env(),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const view = JSON.parse(run.stdout);
    expect(view).toMatchObject({ id: ID, status: 'queued', format: 'csv', title: 'Q2 report' });
    const post = api.seen.find((r) => r.method === 'POST' && r.headers['idempotency-key'] === 'run-42');
    expect(JSON.parse(post!.body)).toEqual({
      from: '2026-04-16T00:00:00Z',
      to: '2026-04-23T23:59:59Z',
      format: 'csv',
      title: 'Q2 report',
      filters: { team: 'engineering', policy: 'pii-redaction' },
    });
  });

  it.concurrent('--wait prints the failed job and exits 1 with its reason', async () => {
    const run = await kt(['export', 'create', ...RANGE, '--format', 'json', '--wait'], env());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('✓ Export job created\n');
    expect(run.stdout).toContain(`\nStatus: failed\n`);
    expect(run.stdout).toContain(`\nError: ${failure}\n`);
    expect(oneErrorLine(run)).toBe(`error: export ${ID} failed: ${failure}`);
  });

  it.concurrent('lists with --limit and hints at the next page on stderr', async () => {
    const run = await kt(['export', 'list', '--limit', '5'], env());
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^ID +Format +Status +Records +Created$/);
    expect(run.stderr).toBe('More exports: kt export list --limit 5 --cursor c2\n');
    expect(api.seen.some((r) => r.url === '/v1/exports?limit=5')).toBe(true);
  });

  it.concurrent('downloads over an existing file with --force', async () => {
    const target = dir.write('forced.csv', 'old');
    const run = await kt(['export', 'download', '--id', ID, '--output', target, '--force'], env());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `✓ Downloaded ${ID} to ${target} (${Buffer.byteLength(artifact)} B, SHA-256 verified)\n` +
        `✓ Saved manifest to ${target}.manifest.json (verify both with: kt export verify --file ${target})\n`,
    );
    expect(readFileSync(target, 'utf8')).toBe(artifact);
    expect(JSON.parse(readFileSync(`${target}.manifest.json`, 'utf8')).artifact.sha256).toBe(
      sha256(artifact),
    );
  });

  it.concurrent('downloads the file alone with --no-manifest', async () => {
    const target = dir.path('alone.csv');
    const run = await kt(['export', 'download', '--id', ID, '--output', target, '--no-manifest'], env());
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(`${target}.manifest.json`)).toBe(false);
  });
});
