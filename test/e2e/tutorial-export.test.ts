import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Papa from 'papaparse';
import { ROOT, runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * Tutorial Steps 2 to 6 and 10 (../shared/reference/export-tutorial.txt) as a new user runs them:
 * `npm start` on a fresh data dir and free ports, the sample events imported, then the real
 * `kt` binary, command by command, checking the printed lines and the downloaded files. Expected
 * counts come from the sample file itself, filtered here in plain JS.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
interface SampleEvent {
  id: string;
  timestamp: string;
  policy: string;
  team?: string;
}
const sample: SampleEvent[] = readFileSync(path.join(ROOT, SAMPLE), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as SampleEvent);

const count = (from: string, to: string, filters: { team?: string; policy?: string } = {}) =>
  sample.filter(
    (event) =>
      Date.parse(event.timestamp) >= Date.parse(from) &&
      Date.parse(event.timestamp) <= Date.parse(to) &&
      (filters.team === undefined || event.team === filters.team) &&
      (filters.policy === undefined || event.policy === filters.policy),
  ).length;

const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const EXPORT_ID = /^exp_[0-9a-z]{20}$/;

describe('tutorial: exporting compliance evidence', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-tutorial-'));
    stack = await startFreshStack(root);
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token };
    kt = (args) => runKt(args, env);
    const imported = await kt(['events', 'import', '--file', SAMPLE]);
    expect(imported.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** `kt export create …` with the tutorial's flags; returns the printed job id. */
  async function create(args: readonly string[]): Promise<{ id: string; lines: string[] }> {
    const result = await kt(['export', 'create', ...args]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const id = lines[1]?.replace('Job ID: ', '') ?? '';
    expect(id).toMatch(EXPORT_ID);
    return { id, lines };
  }

  /** Polls as the tutorial says ("poll the export job until it completes"), via -o json. */
  async function waitForOutcome(id: string): Promise<Record<string, unknown>> {
    for (let attempt = 0; attempt < 240; attempt++) {
      const result = await kt(['export', 'status', '--id', id, '-o', 'json']);
      expect(result.code).toBe(0);
      const job = JSON.parse(result.stdout) as Record<string, unknown>;
      if (job.status !== 'queued' && job.status !== 'running') return job;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`export ${id} did not finish`);
  }

  let jsonExport: string;
  const step2Records = count('2026-04-16T00:00:00Z', '2026-04-23T23:59:59Z');

  test('Step 2: create a one-time JSON export', async () => {
    const { id, lines } = await create([
      '--from',
      '2026-04-16T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'json',
    ]);
    jsonExport = id;
    expect(lines).toEqual([
      '✓ Export job created',
      `Job ID: ${id}`,
      'Format: json',
      'Status: queued',
      'Range: 2026-04-16T00:00:00Z → 2026-04-23T23:59:59Z',
    ]);
  });

  test('Step 3: check export status', async () => {
    await waitForOutcome(jsonExport);
    const result = await kt(['export', 'status', '--id', jsonExport]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `Export: ${jsonExport}`,
      'Status: completed',
      'Format: json',
      `Records: ${step2Records.toLocaleString('en-US')}`,
    ]);
    expect(lines[4]).toMatch(/^File size: \d+(\.\d)? (B|kB|MB)$/);
    expect(lines[5]).toMatch(/^Created: /);
    expect(lines[5]?.slice('Created: '.length)).toMatch(ISO_SECONDS);
    expect(lines[6]?.slice('Completed: '.length)).toMatch(ISO_SECONDS);
    expect(lines).toHaveLength(7);
    expect(step2Records).toBeGreaterThan(500);
  });

  test('Step 4: download the export; .events | length equals the Records', async () => {
    const output = path.join(root, 'compliance-report.json');
    const result = await kt(['export', 'download', '--id', jsonExport, '--output', output]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const document = JSON.parse(readFileSync(output, 'utf8')) as { events: Record<string, unknown>[] };
    expect(document.events).toHaveLength(step2Records);
    const first = document.events[0]!;
    for (const field of ['id', 'timestamp', 'model', 'policy', 'action', 'result']) {
      expect(typeof first[field]).toBe('string');
    }
    // A second download to the same path is refused without --force, and the file is untouched.
    const again = await kt(['export', 'download', '--id', jsonExport, '--output', output]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/--force/);
  });

  let csvExport: string;

  test('Step 5: a CSV export filtered to one policy', async () => {
    const { id } = await create([
      '--from',
      '2026-04-01T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'csv',
      '--filter-policy',
      'pii-redaction',
    ]);
    csvExport = id;
    const job = await waitForOutcome(id);
    expect(job.status).toBe('completed');
    const expected = count('2026-04-01T00:00:00Z', '2026-04-23T23:59:59Z', { policy: 'pii-redaction' });
    expect(job.records).toBe(expected);

    const output = path.join(root, 'pii-audit.csv');
    const download = await kt(['export', 'download', '--id', id, '--output', output]);
    expect(download.code).toBe(0);
    const text = readFileSync(output, 'utf8');
    expect(text.split('\n')[0]).toBe('id,timestamp,model,policy,action,result,tokens,latency_ms');
    const rows = Papa.parse<string[]>(text, { skipEmptyLines: true }).data.slice(1);
    expect(rows).toHaveLength(expected);
    expect(new Set(rows.map((row) => row[3]))).toEqual(new Set(['pii-redaction']));
  });

  test('Step 6: filter by team, and by team and policy together', async () => {
    const team = await create([
      '--from',
      '2026-04-01T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'json',
      '--filter-team',
      'engineering',
    ]);
    const both = await create([
      '--from',
      '2026-04-01T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'csv',
      '--filter-team',
      'engineering',
      '--filter-policy',
      'content-filter',
    ]);
    const teamJob = await waitForOutcome(team.id);
    const bothJob = await waitForOutcome(both.id);
    expect(teamJob.records).toBe(
      count('2026-04-01T00:00:00Z', '2026-04-23T23:59:59Z', { team: 'engineering' }),
    );
    expect(bothJob.records).toBe(
      count('2026-04-01T00:00:00Z', '2026-04-23T23:59:59Z', {
        team: 'engineering',
        policy: 'content-filter',
      }),
    );
    expect(bothJob.records).toBeGreaterThan(0);
  });

  test('Step 10: list exports newest first, then delete one', async () => {
    const list = await kt(['export', 'list', '--limit', '10']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual(['ID', 'Format', 'Status', 'Records', 'Created']);
    expect(lines).toHaveLength(5);
    const rows = lines.slice(1).map((line) => line.split(/\s+/));
    expect(rows.at(-1)).toEqual([
      jsonExport,
      'json',
      'completed',
      step2Records.toLocaleString('en-US'),
      expect.stringMatching(ISO_SECONDS),
    ]);
    expect(rows.map((row) => row[0])).toContain(csvExport);

    const removed = await kt(['export', 'delete', '--id', jsonExport]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^✓ Export ${jsonExport} deleted`));
    const status = await kt(['export', 'status', '--id', jsonExport]);
    expect(status.stdout).toContain('Status: deleted');
    const download = await kt([
      'export',
      'download',
      '--id',
      jsonExport,
      '--output',
      path.join(root, 'gone.json'),
    ]);
    expect(download.code).toBe(1);
    expect(download.stderr).toMatch(/deleted/);
    expect(existsSync(path.join(root, 'gone.json'))).toBe(false);
  });

  test('an unknown export id is one line and a non-zero exit', async () => {
    const result = await kt(['export', 'status', '--id', 'exp_00000000000000000000']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/not found/);
  });
});

describe('an export whose part uploads keep failing (KT_FAULT_AFTER_PARTS=0)', () => {
  let root: string;
  let stack: StartedStack;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-fault-'));
    stack = await startFreshStack(root, { KT_FAULT_AFTER_PARTS: '0', KT_DEMO_EVENTS: '500' });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('ends failed, and kt export status --wait shows why', async () => {
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token };
    const now = new Date();
    const from = `${new Date(now.getTime() - 40 * 86_400_000).toISOString().slice(0, 19)}Z`;
    const to = `${now.toISOString().slice(0, 19)}Z`;
    const result = await runKt(
      ['export', 'create', '--from', from, '--to', to, '--format', 'csv', '--wait'],
      env,
      180_000,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Status: failed');
    expect(result.stdout).toMatch(/Error: DependencyError: Injected failure \(KT_FAULT_AFTER_PARTS=0\)/);
  }, 180_000);
});
