import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * Tutorial Step 9 (../shared/reference/export-tutorial.txt) and the rest of `kt export schedule`
 * with the real `kt` binary against `npm start`: the printed lines, a backfilled run of the window
 * before a scheduled time (its record count computed here from the sample file), the same run
 * again, and schedules armed again after a restart.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
const sample = readFileSync(path.join(ROOT, SAMPLE), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { id: string; timestamp: string });

const T = '2026-04-20T02:00:00Z';
const WEEK_MS = 7 * 86_400_000;
/** [T - 7 days, T): half-open, so an event at T belongs to the next week's run. */
const inWindow = sample.filter(
  (event) =>
    Date.parse(event.timestamp) >= Date.parse(T) - WEEK_MS && Date.parse(event.timestamp) < Date.parse(T),
).length;

describe('tutorial Step 9: recurring exports', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-schedules-'));
    stack = await startFreshStack(root);
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token, KT_DEBUG: '' };
    kt = (args) => runKt(args, env);
    const imported = await kt(['events', 'import', '--file', SAMPLE]);
    expect(imported.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('kt export schedule prints the tutorial block', async () => {
    const run = await kt([
      'export',
      'schedule',
      '--name',
      'weekly-compliance',
      '--cron',
      '0 2 * * MON',
      '--window',
      '7d',
      '--format',
      'json',
      '--s3-bucket',
      'compliance-artifacts',
      '--s3-prefix',
      'keeptrusts/weekly/',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        '✓ Recurring export scheduled',
        'Name: weekly-compliance',
        'Schedule: Every Monday at 02:00 UTC',
        'Window: 7 days',
        'Delivery: s3://compliance-artifacts/keeptrusts/weekly/',
        '',
      ].join('\n'),
    );
  });

  it('the short form: --interval weekly names the schedule and picks a 7-day window', async () => {
    const run = await kt(['export', 'schedule', '--interval', 'weekly', '--format', 'csv']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        '✓ Recurring export scheduled',
        'Name: weekly-csv',
        'Schedule: Every Monday at 02:00 UTC',
        'Window: 7 days',
        '',
      ].join('\n'),
    );
  });

  it('refuses what EventBridge cannot run faithfully before sending, naming the flag (exit 2)', async () => {
    const run = await kt([
      'export',
      'schedule',
      '--name',
      'both',
      '--cron',
      '0 2 1 * MON',
      '--window',
      '7d',
      '--format',
      'json',
    ]);
    // The API's own schema, checked by kt: a usage error, and nothing is sent.
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: --cron restricts both day-of-month \(1\) and day-of-week \(MON\)/);
    expect(run.stdout).toBe('');
  });

  it('kt export schedule list shows each schedule, its next run and (none yet) its last', async () => {
    const run = await kt(['export', 'schedule', 'list']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual([
      'NAME',
      'SCHEDULE',
      'WINDOW',
      'FORMAT',
      'DELIVERY',
      'NEXT RUN',
      'LAST RUN',
      'STATUS',
    ]);
    const row = lines.find((line) => line.startsWith('weekly-compliance'))!.split(/\s{2,}/);
    expect(row.slice(0, 5)).toEqual([
      'weekly-compliance',
      'Every Monday at 02:00 UTC',
      '7d',
      'json',
      's3://compliance-artifacts/keeptrusts/weekly/',
    ]);
    const next = new Date(row[5]!);
    expect(next.getUTCDay()).toBe(1);
    expect(row[5]).toMatch(/T02:00:00Z$/);
    expect(row.slice(6)).toEqual(['-', '-']);
  });

  it('kt export schedule run --at T exports [T - 7d, T), and again prints the same job', async () => {
    const first = await kt(['export', 'schedule', 'run', '--name', 'weekly-compliance', '--at', T]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toBe('✓ Export job created');
    const id = /^Job ID: (exp_[0-9a-z]{20})$/m.exec(first.stdout)?.[1];
    expect(id).toBeDefined();
    expect(first.stdout).toContain('Range: 2026-04-13T02:00:00Z → 2026-04-20T01:59:59.999999999Z');
    expect(first.stdout).toContain('Schedule: weekly-compliance');

    const again = await kt(['export', 'schedule', 'run', '--name', 'weekly-compliance', '--at', T]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Job ID: ${id}`);

    let status = '';
    for (let i = 0; i < 200 && !/Status: (completed|failed)/.test(status); i++) {
      status = (await kt(['export', 'status', '--id', id!])).stdout;
    }
    expect(status).toContain('Status: completed');
    expect(status).toContain(`Records: ${inWindow.toLocaleString('en-US')}`);

    const list = await kt(['export', 'list', '--limit', '10']);
    const row = list.stdout.split('\n').find((line) => line.startsWith(id!))!;
    expect(row.trim().split(/\s+/).at(-1)).toBe('weekly-compliance');

    const schedules = await kt(['export', 'schedule', 'list']);
    const scheduleRow = schedules.stdout.split('\n').find((line) => line.startsWith('weekly-compliance'))!;
    expect(scheduleRow).toMatch(/2026-04-20T02:00:00Z\s+completed$/);
  }, 120_000);

  it('show, pause, resume and delete', async () => {
    const show = await kt(['export', 'schedule', 'show', '--name', 'weekly-csv']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Cron: 0 2 * * MON (cron(0 2 ? * MON *))');
    expect(show.stdout).toContain('State: enabled');

    const paused = await kt(['export', 'schedule', 'pause', '--name', 'weekly-csv']);
    expect(paused.stdout.split('\n')[0]).toBe('✓ Schedule weekly-csv paused');
    const listed = await kt(['export', 'schedule', 'list']);
    expect(listed.stdout.split('\n').find((line) => line.startsWith('weekly-csv'))).toMatch(/\spaused\s/);

    const resumed = await kt(['export', 'schedule', 'resume', '--name', 'weekly-csv']);
    expect(resumed.stdout).toMatch(/^✓ Schedule weekly-csv resumed\nNext run: \d{4}-\d\d-\d\dT02:00:00Z\n$/);

    const json = await kt(['export', 'schedule', 'show', '--name', 'weekly-csv', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'weekly-csv', state: 'enabled', format: 'csv' });

    const missing = await kt(['export', 'schedule', 'show', '--name', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/schedule nope was not found/);
  });

  it('kt export schedule --help shows both the create flags and the subcommands', async () => {
    const help = await kt(['export', 'schedule', '--help']);
    expect(help.code).toBe(0);
    for (const text of [
      '--cron <expression>',
      '--interval <interval>',
      '--window <window>',
      '--s3-bucket <bucket>',
    ]) {
      expect(help.stdout).toContain(text);
    }
    for (const command of ['list', 'show', 'delete', 'pause', 'resume', 'run']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('a restart arms the stored schedules again', async () => {
    await stack.stop();
    stack = await startFreshStack(root);
    expect(stack.output()).toMatch(/Schedules\s+2 armed again/);
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token, KT_DEBUG: '' };
    kt = (args) => runKt(args, env);
    const removed = await kt(['export', 'schedule', 'delete', '--name', 'weekly-csv']);
    expect(removed.stdout.split('\n')[0]).toBe('✓ Schedule weekly-csv deleted');
    const listed = await kt(['export', 'schedule', 'list']);
    expect(listed.stdout).not.toContain('weekly-csv');
  }, 180_000);
});
