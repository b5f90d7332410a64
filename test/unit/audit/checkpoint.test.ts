import { createPublicKey, verify } from 'node:crypto';
import { type AuditEntry, type AuditRecord, chainNext } from '../../../functions/core/audit/audit-chain.ts';
import { AuditTrail } from '../../../functions/core/audit/audit-trail.ts';
import {
  type AuditCheckpoint,
  CHECKPOINT_MAX_AGE_MS,
  checkAgainstCheckpoint,
  checkpointKey,
  checkpointMessage,
  isCheckpointDue,
  LATEST_CHECKPOINT_KEY,
  parseCheckpoint,
  readLatestCheckpoint,
  signCheckpoint,
  verifyCheckpointSignature,
  writeCheckpointIfDue,
} from '../../../functions/core/audit/checkpoint.ts';
import { ValidationError } from '../../../functions/core/errors.ts';
import { SIGNATURE_ALGORITHM } from '../../../functions/core/evidence/signing.ts';
import { MemoryAuditStore, testSigner } from '../../support/memory-audit-store.ts';

const HASH = 'ab'.repeat(32);
const T0 = new Date('2026-04-20T09:00:00.000Z');

function rec(n: number): AuditRecord {
  return { action: 'export.created', subject: `exp_${n}`, actor: 'tok_0123456789ab', at: T0.toISOString() };
}

function chain(length: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let n = 0; n < length; n++) entries.push(chainNext(entries.at(-1), rec(n)));
  return entries;
}

describe('signCheckpoint', () => {
  it('signs the canonical JSON of every member but the signature, as openssl checks it', async () => {
    const signer = testSigner('kt-test-1');
    const checkpoint = await signCheckpoint(signer, { seq: 100, hash: HASH }, T0);
    expect(checkpoint).toEqual({
      schema: 1,
      seq: 100,
      hash: HASH,
      at: '2026-04-20T09:00:00.000Z',
      keyId: 'kt-test-1',
      algorithm: SIGNATURE_ALGORITHM,
      signature: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/),
    });
    const message =
      `{"algorithm":"ECDSA_P256_SHA256","at":"2026-04-20T09:00:00.000Z","hash":"${HASH}",` +
      '"keyId":"kt-test-1","schema":1,"seq":100}';
    expect(Buffer.from(checkpointMessage(checkpoint)).toString('utf8')).toBe(message);
    // Checked with node:crypto directly, as an auditor's openssl would: DER ECDSA over SHA-256.
    const key = createPublicKey(signer.publicKeyPem);
    expect(
      verify(
        'sha256',
        Buffer.from(message),
        { key, dsaEncoding: 'der' },
        Buffer.from(checkpoint.signature, 'base64'),
      ),
    ).toBe(true);
    expect(verifyCheckpointSignature(checkpoint, signer.publicKeyPem)).toBe(true);
  });

  it('learns the key id once per signer, then signs each checkpoint once', async () => {
    const signer = testSigner();
    await signCheckpoint(signer, { seq: 1, hash: HASH }, T0);
    expect(signer.signed).toBe(2);
    await signCheckpoint(signer, { seq: 2, hash: HASH }, T0);
    expect(signer.signed).toBe(3);
  });

  it('signs again when the key rotated since the last checkpoint, under the new key id', async () => {
    const signer = testSigner('kt-old');
    await signCheckpoint(signer, { seq: 1, hash: HASH }, T0);
    const rotated = testSigner('kt-new');
    signer.sign = rotated.sign;
    const checkpoint = await signCheckpoint(signer, { seq: 2, hash: HASH }, T0);
    expect(checkpoint.keyId).toBe('kt-new');
    expect(verifyCheckpointSignature(checkpoint, rotated.publicKeyPem)).toBe(true);
  });

  it('a checkpoint with any member changed no longer verifies, nor with another key', async () => {
    const signer = testSigner();
    const checkpoint = await signCheckpoint(signer, { seq: 5, hash: HASH }, T0);
    for (const change of [
      { seq: 6 },
      { hash: 'cd'.repeat(32) },
      { at: '2026-04-21T00:00:00.000Z' },
      { keyId: 'x' },
    ]) {
      expect(verifyCheckpointSignature({ ...checkpoint, ...change }, signer.publicKeyPem)).toBe(false);
    }
    expect(verifyCheckpointSignature(checkpoint, testSigner().publicKeyPem)).toBe(false);
  });
});

describe('isCheckpointDue', () => {
  const last = { seq: 100, hash: HASH, at: T0.toISOString() };
  const soon = new Date(T0.getTime() + 60_000);
  it.each<[string, Parameters<typeof isCheckpointDue>[0], number, Date, boolean]>([
    ['the first entry of all', undefined, 1, soon, true],
    ['an entry on a multiple of N', last, 200, soon, true],
    ['an entry between multiples', last, 150, soon, false],
    ['N entries after a checkpoint that was missed', { ...last, seq: 95 }, 195, soon, true],
    [
      'an entry a day after the last checkpoint',
      last,
      101,
      new Date(T0.getTime() + CHECKPOINT_MAX_AGE_MS),
      true,
    ],
    [
      'an entry not after the last checkpoint',
      last,
      100,
      new Date(T0.getTime() + CHECKPOINT_MAX_AGE_MS * 2),
      false,
    ],
  ])('%s', (_name, mark, seq, now, due) => {
    expect(isCheckpointDue(mark, { seq, hash: HASH }, now, 100)).toBe(due);
  });
});

describe('writeCheckpointIfDue and AuditTrail checkpoints', () => {
  it('stores each checkpoint under its seq, records it, and publishes it as latest', async () => {
    const store = new MemoryAuditStore();
    const signer = testSigner();
    let now = T0;
    const trail = new AuditTrail(store, {
      checkpoints: { marks: store, objects: store, signer, every: 5, now: () => now },
    });
    for (let n = 0; n < 12; n++) await trail.append(rec(n));
    expect([...store.objects.keys()].sort()).toEqual([
      checkpointKey(1),
      checkpointKey(5),
      checkpointKey(10),
      LATEST_CHECKPOINT_KEY,
    ]);
    expect(checkpointKey(10)).toBe('audit/checkpoints/000000000010.json');
    const latest = await readLatestCheckpoint(store);
    expect(latest).toMatchObject({ seq: 10, hash: store.all()[9]!.hash });
    expect(verifyCheckpointSignature(latest!, signer.publicKeyPem)).toBe(true);
    expect(store.mark).toEqual({ seq: 10, hash: latest!.hash, at: latest!.at });

    // A quiet day later, the next append signs the head it made.
    now = new Date(T0.getTime() + CHECKPOINT_MAX_AGE_MS);
    await trail.append(rec(12));
    expect(await readLatestCheckpoint(store)).toMatchObject({ seq: 13 });
  });

  it('keeps the append when a checkpoint fails, reports it, and the next append makes it up', async () => {
    const store = new MemoryAuditStore();
    const errors: unknown[] = [];
    const trail = new AuditTrail(store, {
      checkpoints: { marks: store, objects: store, signer: testSigner(), every: 3, now: () => T0 },
      onCheckpointError: (error) => errors.push(error),
    });
    await trail.append(rec(0));
    store.before.putDocument = () => {
      throw new Error('S3 is down');
    };
    await trail.append(rec(1));
    const third = await trail.append(rec(2));
    expect(third.seq).toBe(3);
    expect(errors).toEqual([new Error('S3 is down')]);
    expect(store.mark?.seq).toBe(1); // nothing recorded for a checkpoint that was not stored
    store.before.putDocument = undefined;
    await trail.append(rec(3));
    // Seq 4 is not a multiple of 3, but 3 entries passed since the last checkpoint.
    expect(store.mark?.seq).toBe(4);
    expect(await readLatestCheckpoint(store)).toMatchObject({ seq: 4 });
  });

  it('never moves the record or latest.json back when an older checkpoint finishes last', async () => {
    const store = new MemoryAuditStore();
    const deps = { marks: store, objects: store, signer: testSigner(), every: 1, now: () => T0 };
    const [first, second] = chain(2);
    await writeCheckpointIfDue(deps, second!);
    const older = await writeCheckpointIfDue(
      {
        ...deps,
        marks: {
          ...deps.marks,
          readCheckpointMark: async () => undefined,
          advanceCheckpointMark: (m) => store.advanceCheckpointMark(m),
        },
      },
      first!,
    );
    expect(older?.seq).toBe(1);
    expect(store.mark?.seq).toBe(2);
    expect(await readLatestCheckpoint(store)).toMatchObject({ seq: 2 });
    expect(store.objects.has(checkpointKey(1))).toBe(true);
  });
});

describe('parseCheckpoint', () => {
  it('accepts a checkpoint that went through JSON and names every bad member', async () => {
    const checkpoint = await signCheckpoint(testSigner(), { seq: 3, hash: HASH }, T0);
    expect(parseCheckpoint(JSON.parse(JSON.stringify(checkpoint)))).toEqual(checkpoint);
    let error: unknown;
    try {
      parseCheckpoint({ ...checkpoint, schema: 2, seq: 0, hash: 'x', extra: 1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual(['schema', 'seq', 'hash', 'extra']);
    expect(() => parseCheckpoint([])).toThrow(ValidationError);
  });
});

describe('checkAgainstCheckpoint', () => {
  const entries = chain(20);
  const at20 = { seq: 20, hash: entries[19]!.hash } as AuditCheckpoint;
  const end = (n: number) => ({ seq: n, hash: entries[n - 1]!.hash });

  it('accepts a chain that reaches the checkpoint with its hash', () => {
    expect(checkAgainstCheckpoint(entries, at20, end(20))).toEqual({ ok: true });
    expect(checkAgainstCheckpoint(entries, { seq: 7, hash: entries[6]!.hash }, end(20))).toEqual({
      ok: true,
    });
  });

  it('names removed newest entries', () => {
    expect(checkAgainstCheckpoint(entries.slice(0, 18), at20, end(18))).toEqual({
      ok: false,
      seq: 19,
      reason: 'the chain ends at seq 18 but checkpoint seq 20 was signed: entries were removed',
    });
    expect(checkAgainstCheckpoint([], at20, undefined)).toMatchObject({
      ok: false,
      reason: 'the chain is empty but checkpoint seq 20 was signed: entries were removed',
    });
  });

  it('names a chain rewritten up to the checkpoint', () => {
    expect(checkAgainstCheckpoint(entries, { seq: 20, hash: HASH }, end(20))).toEqual({
      ok: false,
      seq: 20,
      reason: `entry 20 has hash ${entries[19]!.hash}, but the signed checkpoint has ${HASH}: the chain was rewritten`,
    });
  });
});
