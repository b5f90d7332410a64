import { listAudit } from '../../../cli/audit/list-action.ts';
import { verifyAudit } from '../../../cli/audit/verify-action.ts';
import { ApiError, exitCodeFor, UsageError } from '../../../cli/errors.ts';
import { type AuditEntry, chainNext, GENESIS_HASH } from '../../../functions/core/audit/audit-chain.ts';
import { type AuditCheckpoint, signCheckpoint } from '../../../functions/core/audit/checkpoint.ts';
import { testSigner } from '../../support/memory-audit-store.ts';
import { exportContext, type FakeApi, problem, sendJson, startFakeApi } from './export-fixtures.ts';
import { rejection, tempDir } from './helpers.ts';

/**
 * The `kt audit` actions, called directly (commander is ESM-only): `list` against a loopback
 * server standing in for the API, `verify` against it and offline on saved files, with each kind
 * of tampering an auditor must be told about.
 */

const signer = testSigner('kt-local-00112233aabbccdd');
const entries: AuditEntry[] = [];
for (let n = 0; n < 20; n++) {
  entries.push(
    chainNext(entries.at(-1), {
      action: n % 2 === 0 ? 'export.created' : 'export.completed',
      subject: `exp_${String(n).padStart(20, '0')}`,
      actor: n % 2 === 0 ? 'tok_0123456789ab' : 'workflow',
      at: new Date(Date.UTC(2026, 3, 20, 9, n, 30, 250)).toISOString(),
    }),
  );
}
const head = { seq: 20, hash: entries[19]!.hash };
let checkpoint20: AuditCheckpoint;

let api: FakeApi;
const files = tempDir();
beforeAll(async () => {
  api = await startFakeApi();
  checkpoint20 = await signCheckpoint(signer, head, new Date('2026-04-20T10:00:00Z'));
});
afterAll(async () => {
  await api.close();
  files.cleanup();
});
beforeEach(() => api.reset());

/** Serves `chain` as GET /v1/audit pages (fromSeq/toSeq/limit/cursor honoured), as the API pages it. */
function serveChain(chain: readonly unknown[], chainHead = head): void {
  api.route('GET /v1/audit', (req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const from = Number(query.get('fromSeq') ?? 1);
    const to = Number(query.get('toSeq') ?? Number.MAX_SAFE_INTEGER);
    const limit = Number(query.get('limit') ?? 100);
    const start = query.get('cursor') === null ? 0 : Number(query.get('cursor'));
    const inRange = chain.filter((e) => {
      const seq = (e as AuditEntry).seq;
      return seq >= from && seq <= to;
    });
    const page = inRange.slice(start, start + limit);
    const more = start + limit < inRange.length;
    sendJson(res, 200, {
      entries: page,
      ...(more ? { cursor: String(start + limit) } : {}),
      head: chainHead,
    });
  });
}

function serveCheckpoint(checkpoint: AuditCheckpoint | undefined): void {
  api.route('GET /v1/audit/checkpoint', (_req, res) =>
    checkpoint === undefined
      ? problem(res, 404, { title: 'Not Found', detail: 'Audit checkpoint latest was not found' })
      : sendJson(res, 200, checkpoint),
  );
  api.route('GET /v1/keys', (_req, res) =>
    sendJson(res, 200, {
      keys: [
        {
          keyId: 'kt-local-00112233aabbccdd',
          algorithm: 'ECDSA_P256_SHA256',
          publicKeyPem: signer.publicKeyPem,
          current: true,
        },
      ],
    }),
  );
}

describe('kt audit list', () => {
  it('prints the aligned table, and on stderr how to continue', async () => {
    serveChain(entries);
    const { context, globals, io } = exportContext(api.url);
    await listAudit(context, globals, { limit: '3', fromSeq: '9' });
    expect(io.out()).toBe(
      [
        'SEQ  AT                    ACTION            SUBJECT                   ACTOR',
        `  9  2026-04-20T09:08:30Z  export.created    ${entries[8]!.subject}  tok_0123456789ab`,
        ` 10  2026-04-20T09:09:30Z  export.completed  ${entries[9]!.subject}  workflow`,
        ` 11  2026-04-20T09:10:30Z  export.created    ${entries[10]!.subject}  tok_0123456789ab`,
        '',
      ].join('\n'),
    );
    expect(io.err()).toBe('More entries: add --cursor 3 (or --all for every page)\n');
    expect(api.seen[0]!.url).toBe('/v1/audit?fromSeq=9&limit=3');
  });

  it('sends every filter, and prints the API document as is with -o json', async () => {
    serveChain(entries.slice(0, 2));
    const { context, globals, io } = exportContext(api.url, 'json');
    await listAudit(context, globals, {
      since: '2026-04-20T00:00:00Z',
      until: '2026-04-21T00:00:00Z',
      action: 'export.',
      subject: 'exp_1',
      toSeq: '5',
    });
    const query = new URL(api.seen[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(query)).toEqual({
      toSeq: '5',
      since: '2026-04-20T00:00:00Z',
      until: '2026-04-21T00:00:00Z',
      action: 'export.',
      subject: 'exp_1',
    });
    expect(JSON.parse(io.out())).toEqual({ entries: entries.slice(0, 2), head });
  });

  it('follows every page with --all', async () => {
    serveChain(entries);
    const { context, globals, io } = exportContext(api.url, 'json');
    await listAudit(context, globals, { all: true, limit: '6' });
    expect(api.seen).toHaveLength(4);
    expect(JSON.parse(io.out())).toEqual({ entries, head });
  });

  it('draws a progress bar on a terminal while fetching many pages, and keeps stdout the table', async () => {
    serveChain(entries);
    const { context, globals, io } = exportContext(api.url, 'human', true);
    await listAudit(context, globals, { all: true, limit: '5' });
    expect(io.err()).toMatch(/Fetching .*100% \| 20 of 20 entries/);
    expect(io.out().trimEnd().split('\n')).toHaveLength(21);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a seq of 0', { fromSeq: '0' }, /--from-seq must be a whole number/],
    ['from after to', { fromSeq: '9', toSeq: '3' }, /--from-seq must not be greater than --to-seq/],
    ['a local time', { since: '2026-04-20 09:00' }, /--since must be an ISO 8601 UTC timestamp/],
    ['an unknown action', { action: 'export.viewed' }, /--action must be one of export.created/],
    ['a limit over 1000', { limit: '1001' }, /--limit must be a whole number from 1 to 1000/],
    ['--all with --cursor', { all: true, cursor: 'x' }, /--all and --cursor cannot be combined/],
    ['a cursor no page gave', { cursor: 'x' }, /--cursor must be a cursor returned by a previous page/],
    ['a blank subject', { subject: ' ' }, /--subject must not be empty/],
    ['since after until', { since: '2026-04-21T00:00:00Z', until: '2026-04-20T00:00:00Z' }, /--since must not be later than --until/],
  ])('refuses %s before any request (exit 2)', async (_name, flags, message) => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(listAudit(context, globals, flags));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(message);
    expect(exitCodeFor(error)).toBe(2);
    expect(api.seen).toHaveLength(0);
  });

  it('names the flag for a field the API refuses', async () => {
    api.route('GET /v1/audit', (_req, res) =>
      problem(res, 400, {
        title: 'Bad Request',
        errors: [{ field: 'fromSeq', rule: 'must be a whole number' }],
      }),
    );
    const { context, globals } = exportContext(api.url);
    const error = await rejection(listAudit(context, globals, { fromSeq: '3' }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe('--from-seq must be a whole number');
  });
});

describe('kt audit verify', () => {
  async function verify(
    flags: Record<string, string>,
    outputFormat: 'human' | 'json' = 'human',
  ): Promise<{ code: number; out: string; err: string; message?: string }> {
    const { context, globals, io } = exportContext(api.url, outputFormat);
    try {
      await verifyAudit(context, globals, flags);
      return { code: 0, out: io.out(), err: io.err() };
    } catch (error) {
      return { code: exitCodeFor(error), out: io.out(), err: io.err(), message: (error as Error).message };
    }
  }
  const save = (name: string, value: unknown) => files.write(name, JSON.stringify(value));
  const offline = (chain: readonly unknown[], checkpoint: AuditCheckpoint = checkpoint20) => ({
    file: save('audit.json', { entries: chain, head }),
    checkpoint: save('checkpoint.json', checkpoint),
    publicKey: files.write('key.pem', signer.publicKeyPem),
  });
  const INTACT = `✓ Audit trail intact: 20 entries, head seq 20 hash ${head.hash}\n`;
  const CHECKPOINT_OK =
    '✓ Checkpoint seq 20 signed by kt-local-00112233aabbccdd at 2026-04-20T10:00:00Z: signature valid, chain matches\n';

  it('fetches the chain and the checkpoint, checks both, and says so (exit 0)', async () => {
    serveChain(entries);
    serveCheckpoint(checkpoint20);
    const { code, out, err } = await verify({});
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(INTACT + CHECKPOINT_OK);
    const json = await verify({}, 'json');
    expect(JSON.parse(json.out)).toEqual({
      ok: true,
      entries: 20,
      head,
      checkpoint: { seq: 20, hash: head.hash, at: checkpoint20.at, keyId: checkpoint20.keyId },
    });
  });

  it('warns that the end of the chain is unprotected before any checkpoint was signed', async () => {
    serveChain(entries);
    serveCheckpoint(undefined);
    const { code, out, err } = await verify({});
    expect(code).toBe(0);
    expect(out).toBe(INTACT);
    expect(err).toBe(
      'warning: no checkpoint has been signed yet: entries removed from the end of the chain would not show\n',
    );
  });

  it('starts at --from-seq, anchored on the entry before it', async () => {
    serveChain(entries);
    serveCheckpoint(checkpoint20);
    const { code, out } = await verify({ fromSeq: '15' });
    expect(code).toBe(0);
    expect(out).toBe(`✓ Audit trail intact: 6 entries, head seq 20 hash ${head.hash}\n${CHECKPOINT_OK}`);
    expect(api.seen[0]!.url).toBe('/v1/audit?fromSeq=14&toSeq=14&limit=1');
    const past = await verify({ fromSeq: '30' });
    expect(past.code).toBe(2);
    expect(past.message).toBe('--from-seq 30 is past the end of the chain (its head is seq 20)');
    // An anchor missing inside the chain is a break, not a usage error.
    serveChain(entries.filter((e) => e.seq !== 14));
    const missing = await verify({ fromSeq: '15' });
    expect(missing.code).toBe(1);
    expect(missing.out).toBe(
      '✗ Audit trail broken at seq 14: entry 14, the anchor for --from-seq 15, is missing\n',
    );
  });

  it('verifies a saved listing offline with a saved checkpoint and public key', async () => {
    const { code, out } = await verify(offline(entries));
    expect(code).toBe(0);
    expect(out).toBe(INTACT + CHECKPOINT_OK);
    expect(api.seen).toHaveLength(0);
  });

  const edited = entries.map((e) => (e.seq === 7 ? { ...e, actor: 'tok_someoneelse' } : e));
  const gap = entries.filter((e) => e.seq !== 7 && e.seq !== 8);
  const reordered = [...entries.slice(0, 6), entries[7]!, entries[6]!, ...entries.slice(8)];
  const duplicated = [...entries.slice(0, 7), entries[6]!, ...entries.slice(7)];
  const truncated = entries.slice(0, 18);

  it.each<[string, readonly unknown[], string]>([
    [
      'an edited entry',
      edited,
      `✗ Audit trail broken at seq 7: hash does not match the entry's contents (the entry was altered) (entry export.created ${entries[6]!.subject})`,
    ],
    [
      'a deleted entry',
      gap,
      '✗ Audit trail broken at seq 7: expected seq 7, found seq 9: a gap, 2 entries missing (7..8)',
    ],
    [
      'reordered entries',
      reordered,
      '✗ Audit trail broken at seq 7: expected seq 7, found seq 8 (seq 7 comes later): entries are out of order',
    ],
    [
      'a duplicated entry',
      duplicated,
      '✗ Audit trail broken at seq 8: found seq 7 again after seq 7: a duplicate entry',
    ],
    [
      'the newest entries deleted past the checkpoint',
      truncated,
      '✗ Audit trail broken at seq 19: the chain ends at seq 18 but checkpoint seq 20 was signed: entries were removed',
    ],
  ])('names %s, offline and online (exit 1)', async (_name, chain, verdict) => {
    const saved = await verify(offline(chain));
    expect(saved.code).toBe(1);
    expect(saved.out).toBe(`${verdict}\n`);
    expect(saved.message).toMatch(/^the audit trail is broken at seq \d+$/);
    // The same through the API (whose head, for a truncated chain, was rewound with it).
    const last = chain.at(-1) as AuditEntry;
    serveChain(chain, { seq: last.seq, hash: last.hash });
    serveCheckpoint(checkpoint20);
    const online = await verify({});
    expect(online.code).toBe(1);
    expect(online.out).toBe(`${verdict}\n`);
  });

  it('names entries deleted from the end when the head still counts them', async () => {
    serveChain(truncated, head);
    serveCheckpoint(undefined);
    const { code, out } = await verify({});
    expect(code).toBe(1);
    expect(out).toBe(
      '✗ Audit trail broken at seq 19: the chain ends at seq 18 but its head is at seq 20: entries were removed\n',
    );
  });

  it('refuses a checkpoint signed by another key or altered, and names a rewritten chain', async () => {
    const other = await signCheckpoint(testSigner('kt-local-00112233aabbccdd'), head, new Date());
    const forged = await verify(offline(entries, other));
    expect(forged.code).toBe(1);
    expect(forged.out).toMatch(
      /^✗ Audit trail broken at seq 20: the checkpoint's signature does not verify with key kt-local-00112233aabbccdd/,
    );
    const moved = await verify(offline(entries, { ...checkpoint20, seq: 19 }));
    expect(moved.out).toMatch(/^✗ Audit trail broken at seq 19: the checkpoint's signature does not verify/);

    // Every entry rewritten from seq 5 with hashes recomputed: a valid chain, but not the signed one.
    const rewritten: AuditEntry[] = entries.slice(0, 4);
    for (const e of entries.slice(4))
      rewritten.push(chainNext(rewritten.at(-1), { ...e, actor: 'tok_rewriter0000' }));
    const result = await verify(offline(rewritten));
    expect(result.code).toBe(1);
    expect(result.out).toBe(
      `✗ Audit trail broken at seq 20: entry 20 has hash ${rewritten[19]!.hash}, but the signed checkpoint has ${head.hash}: the chain was rewritten\n`,
    );
  });

  it('prints the verdict as JSON with -o json', async () => {
    const { code, out } = await verify(offline(gap), 'json');
    expect(code).toBe(1);
    expect(JSON.parse(out)).toEqual({
      ok: false,
      seq: 7,
      reason: 'expected seq 7, found seq 9: a gap, 2 entries missing (7..8)',
    });
  });

  it('refuses flags that do not go together, and unreadable files', async () => {
    const { file } = offline(entries);
    const noKey = await verify({ file, checkpoint: save('c.json', checkpoint20) });
    expect(noKey.code).toBe(2);
    expect(noKey.message).toMatch(/offline, --checkpoint needs --public-key/);
    const missing = await verify({ file: files.path('nope.json') });
    expect(missing.code).toBe(1);
    expect(missing.message).toMatch(/cannot read --file .*nope\.json: no such file/);
    const notJson = await verify({ file: files.write('bad.json', '{') });
    expect(notJson.message).toMatch(/is not valid JSON/);
    const badCheckpoint = await verify({
      ...offline(entries),
      checkpoint: save('c2.json', { ...checkpoint20, schema: 2 }),
    });
    expect(badCheckpoint.message).toMatch(/is not a valid audit checkpoint: schema must be 1/);
    const noAnchor = await verify({ file: save('part.json', entries.slice(10)), fromSeq: '5' });
    expect(noAnchor.message).toMatch(/has no entry 4 to start --from-seq 5 from/);
  });

  it('verifies an empty chain', async () => {
    const { code, out } = await verify({ file: save('empty.json', []) });
    expect(code).toBe(0);
    expect(out).toBe(`✓ Audit trail intact: 0 entries, head seq 0 hash ${GENESIS_HASH}\n`);
  });
});
