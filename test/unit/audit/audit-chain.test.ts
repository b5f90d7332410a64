import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  AUDIT_ACTIONS,
  type AuditEntry,
  type AuditRecord,
  auditEntryHash,
  chainNext,
  GENESIS_HASH,
  verifyChain,
} from '../../../functions/core/audit/audit-chain.ts';
import { ValidationError } from '../../../functions/core/errors.ts';

const CREATED: AuditRecord = {
  action: 'export.created',
  subject: 'exp_0123456789abcdefghjk',
  actor: 'tok_0123456789ab',
  at: '2026-04-20T09:15:32.000Z',
  details: {
    format: 'csv',
    records: 1234,
    to: '2026-04-20T00:00:00Z',
    from: '2026-04-13T00:00:00Z',
    reason: 'Zürich "quoted"\n\ttab \u0001 🚀',
  },
};
const COMPLETED: AuditRecord = {
  action: 'export.completed',
  subject: 'exp_0123456789abcdefghjk',
  actor: 'workflow',
  at: '2026-04-20T09:16:00.000Z',
  details: { bytes: 987654321, records: 1234, sha256: 'ab'.repeat(32) },
};

function chainOf(records: readonly AuditRecord[]): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const record of records) entries.push(chainNext(entries.at(-1), record));
  return entries;
}

const record: fc.Arbitrary<AuditRecord> = fc.record(
  {
    action: fc.constantFrom(...AUDIT_ACTIONS),
    subject: fc.stringMatching(/^exp_[0-9a-z]{20}$/),
    actor: fc.oneof(fc.constant('workflow'), fc.stringMatching(/^tok_[0-9a-f]{12}$/)),
    at: fc
      .date({
        min: new Date('2020-01-01T00:00:00Z'),
        max: new Date('2040-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
    details: fc.dictionary(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,10}$/),
      fc.oneof(fc.string({ maxLength: 20 }), fc.maxSafeInteger()),
      { maxKeys: 5 },
    ),
  },
  { requiredKeys: ['action', 'subject', 'actor', 'at'] },
);

describe('chainNext', () => {
  it('hashes the canonical JSON of the entry without its hash (golden values, checked independently)', () => {
    const [first, second] = chainOf([CREATED, COMPLETED]);
    // Computed outside this code base: Python json.dumps(entry, sort_keys=True, separators=(',', ':'),
    // ensure_ascii=False), UTF-8, hashlib.sha256.
    const canonical =
      '{"action":"export.created","actor":"tok_0123456789ab","at":"2026-04-20T09:15:32.000Z",' +
      '"details":{"format":"csv","from":"2026-04-13T00:00:00Z","reason":"Zürich \\"quoted\\"\\n\\ttab \\u0001 🚀",' +
      '"records":1234,"to":"2026-04-20T00:00:00Z"},' +
      `"prevHash":"${GENESIS_HASH}","seq":1,"subject":"exp_0123456789abcdefghjk"}`;
    expect(createHash('sha256').update(canonical, 'utf8').digest('hex')).toBe(
      'c346b16fe5607710ee262e1e2ef7afbaee949ba29af64be9bb6bd971a3fcaeda',
    );
    expect(first).toEqual({ ...CREATED, seq: 1, prevHash: GENESIS_HASH, hash: expect.any(String) });
    expect(first!.hash).toBe('c346b16fe5607710ee262e1e2ef7afbaee949ba29af64be9bb6bd971a3fcaeda');
    expect(second).toEqual({
      ...COMPLETED,
      seq: 2,
      prevHash: 'c346b16fe5607710ee262e1e2ef7afbaee949ba29af64be9bb6bd971a3fcaeda',
      hash: '088a1d0924f91e5fd7e721a19f903ac31532e801bfb11a5b1271fd6d57f9be9a',
    });
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('copies only the record fields, and drops empty details', () => {
    const sneaky = { ...COMPLETED, details: {}, seq: 99, hash: 'x', prevHash: 'y', extra: 1 } as AuditRecord;
    const entry = chainNext(undefined, sneaky);
    expect(Object.keys(entry).sort()).toEqual([
      'action',
      'actor',
      'at',
      'hash',
      'prevHash',
      'seq',
      'subject',
    ]);
    expect(entry.seq).toBe(1);
    expect(entry.prevHash).toBe(GENESIS_HASH);
    expect(verifyChain([entry])).toEqual({ ok: true, count: 1 });
  });

  it('does not share the details object with the caller', () => {
    const details: Record<string, string | number> = { n: 1 };
    const entry = chainNext(undefined, { ...COMPLETED, details });
    details.n = 2;
    expect(entry.details).toEqual({ n: 1 });
  });

  it('stores a lone surrogate in details text as U+FFFD (text cut mid-pair), and the entry verifies', () => {
    const cut = '🚀🚀'.slice(0, 3);
    const entry = chainNext(undefined, { ...COMPLETED, details: { reason: cut } });
    expect(entry.details).toEqual({ reason: '🚀\ufffd' });
    expect(verifyChain([entry])).toEqual({ ok: true, count: 1 });
  });

  it.each<[string, Partial<Record<keyof AuditRecord, unknown>>, string]>([
    ['an unknown action', { action: 'export.viewed' }, 'action'],
    ['an empty export id', { subject: '' }, 'subject'],
    ['an export id with a newline', { subject: 'exp_1\n' }, 'subject'],
    ['a missing actor', { actor: undefined }, 'actor'],
    ['an actor that is too long', { actor: 'a'.repeat(257) }, 'actor'],
    ['a local time', { at: '2026-04-20T09:15:32' }, 'at'],
    ['an impossible date', { at: '2026-02-30T00:00:00Z' }, 'at'],
    ['a numeric time', { at: 1_776_000_000_000 }, 'at'],
    ['details as an array', { details: ['a'] }, 'details'],
    ['a nested detail', { details: { a: { b: 1 } } }, 'details.a'],
    ['a fractional detail', { details: { ms: 1.5 } }, 'details.ms'],
    ['an unsafe integer detail', { details: { n: 2 ** 53 } }, 'details.n'],
    ['a boolean detail', { details: { ok: true } }, 'details.ok'],
    ['a null detail', { details: { a: null } }, 'details.a'],
    ['a detail name with a space', { details: { 'a b': 'x' } }, 'details.a b'],
    ['a detail name starting with _', { details: { __proto__x: 'x' } }, 'details.__proto__x'],
    ['a detail text too long', { details: { reason: 'x'.repeat(2001) } }, 'details.reason'],
    [
      'too many details',
      { details: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) },
      'details',
    ],
  ])('refuses %s', (_name, change, field) => {
    const bad = { ...COMPLETED, ...change } as AuditRecord;
    let error: unknown;
    try {
      chainNext(undefined, bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toContain(field);
  });

  it.each<[string, unknown]>([
    ['seq 0', { seq: 0, hash: GENESIS_HASH }],
    ['a fractional seq', { seq: 1.5, hash: GENESIS_HASH }],
    ['an uppercase hash', { seq: 1, hash: 'A'.repeat(64) }],
    ['a short hash', { seq: 1, hash: 'a'.repeat(63) }],
  ])('refuses a head with %s', (_name, head) => {
    expect(() => chainNext(head as never, COMPLETED)).toThrow(RangeError);
  });
});

describe('verifyChain', () => {
  const entries = chainOf([CREATED, COMPLETED, { ...CREATED, subject: 'exp_b' }, COMPLETED, CREATED]);

  it('accepts a chain, an empty one, and one that went through JSON (as an auditor receives it)', () => {
    expect(verifyChain(entries)).toEqual({ ok: true, count: 5 });
    expect(verifyChain([])).toEqual({ ok: true, count: 0 });
    expect(verifyChain(JSON.parse(JSON.stringify(entries)))).toEqual({ ok: true, count: 5 });
  });

  it('accepts any chain built by chainNext', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        expect(verifyChain(chainOf(records))).toEqual({ ok: true, count: records.length });
      }),
      { numRuns: 100 },
    );
  });

  it('verifies a later slice against the entry before it', () => {
    const after = { seq: entries[1]!.seq, hash: entries[1]!.hash };
    expect(verifyChain(entries.slice(2), { after })).toEqual({ ok: true, count: 3 });
    expect(verifyChain(entries.slice(2))).toMatchObject({ ok: false, seq: 1 });
    expect(verifyChain(entries.slice(3), { after })).toMatchObject({ ok: false, seq: 3 });
    expect(verifyChain(entries.slice(2), { after: { seq: 2, hash: entries[0]!.hash } })).toMatchObject({
      ok: false,
      seq: 3,
      reason: expect.stringMatching(/prevHash/),
    });
  });

  it('catches any edit of any member of any entry, at that entry', () => {
    const members = ['seq', 'prevHash', 'action', 'subject', 'actor', 'at', 'details', 'hash'] as const;
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.constantFrom(...members),
        (records, at, member) => {
          const chain = chainOf(records);
          const index = at % chain.length;
          const original = chain[index]!;
          const edited: Record<string, unknown> = { ...original };
          switch (member) {
            case 'seq':
              edited.seq = original.seq + 1;
              break;
            case 'action':
              edited.action = original.action === 'export.deleted' ? 'export.created' : 'export.deleted';
              break;
            case 'details':
              edited.details = { ...original.details, added: 1 };
              break;
            case 'prevHash':
            case 'hash':
              edited[member] =
                `${original[member].slice(0, 63)}${original[member].endsWith('0') ? '1' : '0'}`;
              break;
            default:
              edited[member] = `${original[member]}x`;
          }
          chain[index] = edited as unknown as AuditEntry;
          expect(verifyChain(chain)).toMatchObject({ ok: false, seq: index + 1 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an edit whose hash is recomputed is caught at the next entry', () => {
    const chain = [...entries];
    const edited = { ...chain[1]!, actor: 'tok_attacker000' };
    chain[1] = { ...edited, hash: auditEntryHash(edited) };
    expect(verifyChain(chain)).toEqual({
      ok: false,
      seq: 3,
      reason: 'prevHash does not match the hash of entry 2',
    });
  });

  it('catches removed details, an added member and a retyped member', () => {
    const { details: _gone, ...withoutDetails } = entries[0]!;
    expect(verifyChain([withoutDetails, ...entries.slice(1)])).toMatchObject({
      ok: false,
      seq: 1,
      reason: expect.stringMatching(/hash does not match/),
    });
    expect(verifyChain([{ ...entries[0]!, note: 'x' } as AuditEntry])).toMatchObject({
      ok: false,
      seq: 1,
      reason: expect.stringMatching(/unexpected member\(s\) note/),
    });
    expect(verifyChain([{ ...entries[0]!, details: { records: [1] } } as never])).toMatchObject({
      ok: false,
      seq: 1,
      reason: expect.stringMatching(/malformed/),
    });
    expect(verifyChain([{ ...entries[0]!, details: { records: 1.5 } } as never])).toMatchObject({
      ok: false,
      seq: 1,
      reason: expect.stringMatching(/cannot be hashed/),
    });
    expect(verifyChain([null as never])).toMatchObject({ ok: false, seq: 1 });
    expect(verifyChain([{ ...entries[0]!, seq: '1' } as never])).toMatchObject({ ok: false, seq: 1 });
  });

  it('catches gaps, duplicates and reordering', () => {
    const [e1, e2, e3, e4, e5] = entries as [AuditEntry, AuditEntry, AuditEntry, AuditEntry, AuditEntry];
    expect(verifyChain([e1, e2, e4, e5])).toEqual({
      ok: false,
      seq: 3,
      reason: 'expected seq 3, found seq 4: a gap, 1 entry missing (3)',
    });
    expect(verifyChain([e1, e5])).toEqual({
      ok: false,
      seq: 2,
      reason: 'expected seq 2, found seq 5: a gap, 3 entries missing (2..4)',
    });
    expect(verifyChain([e1, e2, e2, e3])).toEqual({
      ok: false,
      seq: 3,
      reason: 'found seq 2 again after seq 2: a duplicate entry',
    });
    expect(verifyChain([e1, e3, e2, e4, e5])).toEqual({
      ok: false,
      seq: 2,
      reason: 'expected seq 2, found seq 3 (seq 2 comes later): entries are out of order',
    });
    expect(verifyChain([e1, e2, e3, e4, e2])).toEqual({
      ok: false,
      seq: 5,
      reason: 'found seq 2 after seq 4: entries are out of order',
    });
    expect(verifyChain([e2, e3])).toMatchObject({ ok: false, seq: 1, reason: expect.stringMatching(/gap/) });
  });

  it('catches a wrong genesis', () => {
    const forged = { ...entries[0]!, prevHash: 'f'.repeat(64) };
    const rehashed = { ...forged, hash: auditEntryHash(forged) };
    expect(verifyChain([rehashed])).toEqual({
      ok: false,
      seq: 1,
      reason: `the first entry's prevHash must be ${GENESIS_HASH} (genesis)`,
    });
  });
});
