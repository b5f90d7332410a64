import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type runKt, type StartedStack, startFreshStack, ktFor } from '../support/processes.ts';

/**
 * `kt audit list` and `kt audit verify` as a user runs them: `npm start` on a fresh data dir, one
 * export through the real `kt` binary, then the audit trail it left, listed, verified online
 * (with the signed checkpoint the first append wrote), saved, and verified offline, untouched and
 * tampered with.
 */

const EXPORT_ID = /exp_[0-9a-z]{20}/;

describe('kt audit', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;
  let exportId: string;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-audit-e2e-'));
    stack = await startFreshStack(root);
    kt = ktFor(stack);
    const created = await kt([
      'export',
      'create',
      '--from',
      '2026-04-16T00:00:00Z',
      '--to',
      '2026-04-16T23:59:59Z',
      '--format',
      'csv',
      '--wait',
    ]);
    expect(created.code).toBe(0);
    exportId = created.stdout.match(EXPORT_ID)?.[0] ?? '';
    expect(exportId).not.toBe('');
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function api(route: string): Promise<unknown> {
    const response = await fetch(`${stack.apiUrl}${route}`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    expect(response.status).toBe(200);
    return response.json();
  }

  test('kt audit list prints the export’s entries as a table', async () => {
    const result = await kt(['audit', 'list']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+AT\s+ACTION\s+SUBJECT\s+ACTOR$/);
    // Entry 1 is the stack's key.created, from its first start.
    expect(lines.slice(1).map((line) => line.trim().split(/\s+/))).toEqual([
      [
        '1',
        expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        'key.created',
        expect.stringMatching(/^kt-local-[0-9a-f]{16}$/),
        'local-stack',
      ],
      [
        '2',
        expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        'export.created',
        exportId,
        expect.stringMatching(/^tok_/),
      ],
      ['3', expect.any(String), 'export.completed', exportId, 'workflow'],
    ]);
    const filtered = await kt(['audit', 'list', '--action', 'export.completed', '-o', 'json']);
    expect(filtered.code).toBe(0);
    const page = JSON.parse(filtered.stdout) as { entries: { seq: number }[]; head: { seq: number } };
    expect(page.entries.map((e) => e.seq)).toEqual([3]);
    expect(page.head.seq).toBe(3);
  });

  test('kt audit verify checks the chain and its signed checkpoint', async () => {
    const result = await kt(['audit', 'verify']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^✓ Audit trail intact: 3 entries, head seq 3 hash [0-9a-f]{64}$/);
    expect(lines[1]).toMatch(
      /^✓ Checkpoint seq [123] signed by kt-local-[0-9a-f]{16} at .+: signature valid, chain matches$/,
    );
  });

  test('kt audit verify works offline on saved files, and names an edited entry', async () => {
    const listing = await kt(['audit', 'list', '--all', '-o', 'json']);
    expect(listing.code).toBe(0);
    const saved = path.join(root, 'audit.json');
    writeFileSync(saved, listing.stdout);
    const checkpoint = (await api('/v1/audit/checkpoint')) as { keyId: string };
    const checkpointFile = path.join(root, 'checkpoint.json');
    writeFileSync(checkpointFile, JSON.stringify(checkpoint));
    const { keys } = (await api('/v1/keys')) as { keys: { keyId: string; publicKeyPem: string }[] };
    const keyFile = path.join(root, 'key.pem');
    writeFileSync(keyFile, keys.find((key) => key.keyId === checkpoint.keyId)!.publicKeyPem);
    const offline = ['--checkpoint', checkpointFile, '--public-key', keyFile];

    const intact = await kt(['audit', 'verify', '--file', saved, ...offline]);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^✓ Audit trail intact: 3 entries, head seq 3 /);

    const document = JSON.parse(readFileSync(saved, 'utf8')) as { entries: Record<string, unknown>[] };
    document.entries[2]!.actor = 'tok_someoneelse';
    const tampered = path.join(root, 'tampered.json');
    writeFileSync(tampered, JSON.stringify(document));
    const broken = await kt(['audit', 'verify', '--file', tampered, ...offline]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe(
      `✗ Audit trail broken at seq 3: hash does not match the entry's contents (the entry was altered) (entry export.completed ${exportId})\n`,
    );
    expect(broken.stderr).toBe('error: the audit trail is broken at seq 3\n');
  });
});
