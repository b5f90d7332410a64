import type { AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import { GENESIS_HASH, verifyChain } from '../../../functions/core/audit/audit-chain.ts';
import { AuditTrail } from '../../../functions/core/audit/audit-trail.ts';
import { signCheckpoint, LATEST_CHECKPOINT_KEY } from '../../../functions/core/audit/checkpoint.ts';
import { latestAuditCheckpoint, listAuditEntries } from '../../../functions/core/audit/read-audit.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../functions/core/errors.ts';
import { MemoryAuditStore, testSigner } from '../../support/memory-audit-store.ts';

/** GET /v1/audit and GET /v1/audit/checkpoint as core operations, over an in-memory chain. */

const reader: Principal = { tokenId: 'tok_reader000000', name: 'auditor', scopes: ['audit:read'] };
const admin: Principal = { tokenId: 'tok_admin0000000', name: 'admin', scopes: ['admin'] };

const ACTIONS: AuditRecord['action'][] = [
  'export.created',
  'export.completed',
  'export.downloaded',
  'event.conflict',
];
let store: MemoryAuditStore;
let trail: AuditTrail;

beforeAll(async () => {
  store = new MemoryAuditStore();
  trail = new AuditTrail(store);
  // 40 entries, one a minute from 09:00, actions in turn; subject exp_<n % 5> (events: evt_<n>).
  for (let n = 0; n < 40; n++) {
    const action = ACTIONS[n % 4]!;
    await trail.append({
      action,
      subject: action === 'event.conflict' ? `evt_${n}` : `exp_${n % 5}`,
      actor: 'tok_0123456789ab',
      at: new Date(Date.UTC(2026, 3, 20, 9, n)).toISOString(),
    });
  }
});

const deps = () => ({ audit: trail, checkpoints: store });
const list = (query: Record<string, string>, who: Principal = reader) => listAuditEntries(deps(), query, who);

async function issues(query: Record<string, string>): Promise<string[]> {
  const error = await list(query).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues.map((issue) => issue.field);
}

describe('listAuditEntries', () => {
  it('pages the whole chain in order with a cursor, each page with the head', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list({ limit: '15', ...(cursor === undefined ? {} : { cursor }) });
      expect(page.head).toEqual({ seq: 40, hash: store.all()[39]!.hash });
      seen.push(...page.entries.map((e) => e.seq));
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const whole = await list({ limit: '1000' }, admin);
    expect(whole.cursor).toBeUndefined();
    expect(verifyChain(whole.entries)).toEqual({ ok: true, count: 40 });
  });

  it('defaults to 100 entries', async () => {
    expect((await list({})).entries).toHaveLength(40);
  });

  it('filters by seq range, time range, action, action prefix and subject', async () => {
    const seqs = async (query: Record<string, string>) => (await list(query)).entries.map((e) => e.seq);
    expect(await seqs({ fromSeq: '5', toSeq: '8' })).toEqual([5, 6, 7, 8]);
    expect(await seqs({ since: '2026-04-20T09:30:00Z', until: '2026-04-20T09:32:00.000Z' })).toEqual([
      31, 32, 33,
    ]);
    expect(await seqs({ action: 'export.completed', toSeq: '12' })).toEqual([2, 6, 10]);
    expect(await seqs({ action: 'event.', fromSeq: '30' })).toEqual([32, 36, 40]);
    expect((await seqs({ action: 'export.' })).length).toBe(30);
    expect(await seqs({ subject: 'exp_1', action: 'export.created' })).toEqual([17, 37]);
    expect(await seqs({ subject: 'exp_none' })).toEqual([]);
  });

  it('follows a filtered listing with a cursor that continues where it stopped', async () => {
    const first = await list({ action: 'export.completed', limit: '4' });
    expect(first.entries.map((e) => e.seq)).toEqual([2, 6, 10, 14]);
    const next = await list({ action: 'export.completed', limit: '4', cursor: first.cursor! });
    expect(next.entries.map((e) => e.seq)).toEqual([18, 22, 26, 30]);
    const last = await list({ action: 'export.completed', limit: '4', cursor: next.cursor! });
    expect(last.entries.map((e) => e.seq)).toEqual([34, 38]);
    expect(last.cursor).toBeUndefined();
  });

  it('answers an empty chain with seq 0 and the genesis hash', async () => {
    const empty = new AuditTrail(new MemoryAuditStore());
    expect(await listAuditEntries({ audit: empty }, {}, reader)).toEqual({
      entries: [],
      head: { seq: 0, hash: GENESIS_HASH },
    });
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['a seq of 0 and a fraction', { fromSeq: '0', toSeq: '1.5' }, ['fromSeq', 'toSeq']],
    ['fromSeq after toSeq', { fromSeq: '9', toSeq: '3' }, ['fromSeq']],
    ['local times', { since: '2026-04-20T09:00:00', until: 'yesterday' }, ['since', 'until']],
    ['since after until', { since: '2026-04-21T00:00:00Z', until: '2026-04-20T00:00:00Z' }, ['since']],
    ['an unknown action and a prefix of nothing', { action: 'export.viewed' }, ['action']],
    ['a prefix of nothing', { action: 'policy.' }, ['action']],
    ['a subject with a newline', { subject: 'exp_1\n' }, ['subject']],
    ['limits out of range', { limit: '1001' }, ['limit']],
    ['a limit of 0', { limit: '0' }, ['limit']],
    ['a made-up cursor', { cursor: 'abc' }, ['cursor']],
    ['a misspelt parameter', { from_seq: '3' }, ['from_seq']],
  ])('refuses %s, naming the fields', async (_name, query, fields) => {
    expect(await issues(query)).toEqual(fields);
  });

  it('needs audit:read (or admin), and refuses a team-restricted token with a reason', async () => {
    const exporter: Principal = { ...reader, scopes: ['exports:read', 'exports:write'] };
    await expect(list({}, exporter)).rejects.toThrow(
      new ForbiddenError('This action needs a token with the audit:read scope (or admin).'),
    );
    const team: Principal = { ...reader, team: 'engineering' };
    await expect(list({}, team)).rejects.toThrow(ForbiddenError);
    await expect(list({}, team)).rejects.toThrow(/restricted to team engineering cannot read it/);
    await expect(latestAuditCheckpoint(deps(), team)).rejects.toThrow(ForbiddenError);
  });
});

describe('latestAuditCheckpoint', () => {
  it('is not found before the first checkpoint, then returns latest.json', async () => {
    const objects = new MemoryAuditStore();
    await expect(latestAuditCheckpoint({ checkpoints: objects }, reader)).rejects.toThrow(NotFoundError);
    const checkpoint = await signCheckpoint(
      testSigner(),
      { seq: 40, hash: store.all()[39]!.hash },
      new Date(),
    );
    objects.objects.set(LATEST_CHECKPOINT_KEY, JSON.stringify(checkpoint));
    expect(await latestAuditCheckpoint({ checkpoints: objects }, reader)).toEqual(checkpoint);
  });
});
