import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, type runKt, type StartedStack, startFreshStack, ktFor } from '../support/processes.ts';

/**
 * A new user tries to change history: after importing the sample and exporting a range, they
 * import a file that re-sends a stored event with a changed action and another at a new time.
 * The real `kt` exits 1 naming both lines, and the same export made again is byte-identical.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
const sampleLines = readFileSync(path.join(ROOT, SAMPLE), 'utf8').trim().split('\n');
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-23T23:59:59Z';

describe('kt events import against write-once events', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-write-once-'));
    stack = await startFreshStack(root);
    kt = ktFor(stack);
    expect((await kt(['events', 'import', '--file', SAMPLE])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A CSV export of the range, waited for and downloaded; returns its bytes. */
  async function exportCsv(name: string): Promise<Buffer> {
    const created = await kt([
      'export',
      'create',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      'csv',
      '--wait',
      '-o',
      'json',
    ]);
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const output = path.join(root, name);
    expect((await kt(['export', 'download', '--id', id, '--output', output])).code).toBe(0);
    return readFileSync(output);
  }

  it('refuses a changed and a moved event, naming both lines, and the export stays byte-identical', async () => {
    const before = await exportCsv('before.csv');
    expect(before.toString('utf8').split('\n').length).toBeGreaterThan(1000);

    const changed = JSON.parse(sampleLines[10]!) as Record<string, unknown>;
    const moved = JSON.parse(sampleLines[20]!) as Record<string, unknown>;
    const fresh = { ...changed, id: 'evt_writeonce_new', timestamp: '2026-05-10T00:00:00Z' };
    const file = path.join(root, 'tampered.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify(fresh),
        JSON.stringify({ ...changed, action: 'TAMPERED' }),
        JSON.stringify({ ...moved, timestamp: '2026-04-22T12:34:56Z' }),
      ].join('\n'),
    );

    const human = await kt(['events', 'import', '--file', file]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    const lines = human.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `line 2: ${changed.id}: the id is already stored with different content; stored events never change`,
      `line 3: ${moved.id}: the id is already stored with timestamp ${moved.timestamp}; stored events never change`,
      `error: 2 of 3 events conflict with stored events and were not stored (line 2 ${changed.id}, line 3 ${moved.id}); ` +
        'stored events never change. 1 stored (1 new, 0 already stored).',
    ]);

    const json = await kt(['events', 'import', '--file', file, '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      imported: 1,
      new: 0,
      alreadyStored: 1,
      conflicts: [
        {
          line: 2,
          id: changed.id,
          conflict: 'content',
          reason: expect.stringContaining('different content'),
        },
        { line: 3, id: moved.id, conflict: 'time', reason: expect.stringContaining(String(moved.timestamp)) },
      ],
      file,
    });

    expect((await exportCsv('after.csv')).equals(before)).toBe(true);
  });
});
