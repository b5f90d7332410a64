import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  auditKeys,
  DynamoAuditChainStore,
  DynamoAuditLog,
} from '../../functions/adapters/dynamodb/audit-log.ts';
import {
  AuditChainError,
  type AuditEntry,
  type AuditRecord,
  chainNext,
  GENESIS_HASH,
  verifyChain,
} from '../../functions/core/audit/audit-chain.ts';
import { readLatestCheckpoint, verifyCheckpointSignature } from '../../functions/core/audit/checkpoint.ts';
import { DependencyError, ValidationError } from '../../functions/core/errors.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../support/embedded-dynamodb.ts';
import { MemoryAuditStore, testSigner } from '../support/memory-audit-store.ts';

type Handler = (
  args: { input: Record<string, unknown> },
  next: (args: unknown) => Promise<unknown>,
) => unknown;

let db: EmbeddedDynamoDb;
let log: DynamoAuditLog;
/** When set, every request passes through it (above the SDK's own retries). */
let intercept: Handler | undefined;

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  db.client.middlewareStack.add(
    (next) => async (args) =>
      intercept === undefined
        ? next(args)
        : (intercept(args as never, next as never) as ReturnType<typeof next>),
    { step: 'initialize', name: 'auditTestInterceptor' },
  );
});

afterAll(async () => {
  await db.close();
});

// Every test starts from an empty trail: the audit items of the previous test are removed.
beforeEach(async () => {
  intercept = undefined;
  log = new DynamoAuditLog(db.documents, db.tables.controlTable);
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.documents.send(
      new QueryCommand({
        TableName: db.tables.controlTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'AUDIT' },
        ProjectionExpression: 'pk, sk',
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    for (const item of page.Items ?? []) {
      await db.documents.send(
        new DeleteCommand({ TableName: db.tables.controlTable, Key: { pk: item.pk, sk: item.sk } }),
      );
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
});

let clock = Date.parse('2026-04-20T09:00:00.000Z');
function rec(exportId: string, action: AuditRecord['action'] = 'export.created', n?: number): AuditRecord {
  clock += 1000;
  return {
    action,
    subject: exportId,
    actor: action === 'export.completed' || action === 'export.failed' ? 'workflow' : 'tok_0123456789ab',
    at: new Date(clock).toISOString(),
    ...(n === undefined ? {} : { details: { n } }),
  };
}

async function head(): Promise<Record<string, unknown> | undefined> {
  const { Item } = await db.documents.send(
    new GetCommand({ TableName: db.tables.controlTable, Key: auditKeys.head, ConsistentRead: true }),
  );
  return Item;
}

describe('DynamoAuditLog', () => {
  it('chains sequential appends and reads them back in order', async () => {
    const appended: AuditEntry[] = [];
    appended.push(await log.append(rec('exp_a')));
    appended.push(await log.append(rec('exp_a', 'export.completed', 1234)));
    appended.push(await log.append(rec('exp_b')));
    appended.push(await log.append(rec('exp_a', 'export.downloaded')));

    expect(appended.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(appended[0]!.prevHash).toBe(GENESIS_HASH);
    expect(appended[1]!.prevHash).toBe(appended[0]!.hash);
    const stored = await log.entries();
    expect(stored).toEqual(appended);
    expect(verifyChain(stored)).toEqual({ ok: true, count: 4 });
    expect(await head()).toEqual({ ...auditKeys.head, seq: 4, hash: appended[3]!.hash });
    // The entry items carry their per-export index keys; bookkeeping stays out of the entries.
    expect(Object.keys(stored[1]!).sort()).toEqual([
      'action',
      'actor',
      'at',
      'details',
      'hash',
      'prevHash',
      'seq',
      'subject',
    ]);
  });

  it('gives 20 concurrent appenders (separate instances) seq 1..20 and one valid chain', async () => {
    const logs = Array.from({ length: 4 }, () => new DynamoAuditLog(db.documents, db.tables.controlTable));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        logs[n % logs.length]!.append(rec(`exp_${n % 3}`, 'export.created', n)),
      ),
    );
    expect(results.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const stored = await log.entries();
    expect(verifyChain(stored)).toEqual({ ok: true, count: 20 });
    // Every append is in the chain exactly once, as the entry its caller got back.
    expect(stored.map((e) => e.details?.n).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    for (const entry of results) expect(stored[entry.seq - 1]).toEqual(entry);
    expect(await head()).toMatchObject({ seq: 20, hash: stored[19]!.hash });
  });

  it('recovers when an appender died after writing its entry and before moving the head', async () => {
    for (let i = 0; i < 3; i++) await log.append(rec('exp_a', 'export.created', i));
    const [, , third] = await log.entries();
    // The crashed appender's entry 4, written as append writes it, with the head left at 3.
    const orphan = chainNext({ seq: 3, hash: third!.hash }, rec('exp_crashed', 'export.failed'));
    await db.documents.send(
      new PutCommand({
        TableName: db.tables.controlTable,
        Item: {
          ...auditKeys.entry(4),
          gsi1pk: auditKeys.subjectPartition(orphan.subject),
          gsi1sk: auditKeys.paddedSeq(4),
          ...orphan,
        },
      }),
    );
    expect(await head()).toMatchObject({ seq: 3 });

    const next = await log.append(rec('exp_a', 'export.completed'));
    expect(next.seq).toBe(5);
    expect(next.prevHash).toBe(orphan.hash);
    const stored = await log.entries();
    expect(stored.map((e) => e.subject)).toEqual(['exp_a', 'exp_a', 'exp_a', 'exp_crashed', 'exp_a']);
    expect(stored[3]).toEqual(orphan);
    expect(verifyChain(stored)).toEqual({ ok: true, count: 5 });
    expect(await head()).toMatchObject({ seq: 5, hash: next.hash });
  });

  it('recovers when the very first appender died before creating the head', async () => {
    const orphan = chainNext(undefined, rec('exp_first'));
    await db.documents.send(
      new PutCommand({ TableName: db.tables.controlTable, Item: { ...auditKeys.entry(1), ...orphan } }),
    );
    expect(await head()).toBeUndefined();
    const next = await log.append(rec('exp_second'));
    expect(next.seq).toBe(2);
    expect(verifyChain(await log.entries())).toEqual({ ok: true, count: 2 });
  });

  it('does not append twice when a written entry is retried (its first response lost)', async () => {
    await log.append(rec('exp_a'));
    let replayed = 0;
    intercept = async (args, next) => {
      const item = args.input.Item as Record<string, unknown> | undefined;
      if (replayed === 0 && args.input.ConditionExpression !== undefined && item !== undefined) {
        if (JSON.stringify(item.sk).includes('E#')) {
          replayed++;
          await next(args); // applied...
          return next(args); // ...and sent again: the condition now fails on our own entry
        }
      }
      return next(args);
    };
    const entry = await log.append(rec('exp_a', 'export.downloaded'));
    expect(replayed).toBe(1);
    expect(entry.seq).toBe(2);
    const stored = await log.entries();
    expect(stored).toHaveLength(2);
    expect(stored[1]).toEqual(entry);
    expect(await head()).toMatchObject({ seq: 2, hash: entry.hash });
  });

  it('lists the entries of one export, in chain order, with afterSeq and limit', async () => {
    const actions: AuditRecord['action'][] = ['export.created', 'export.completed', 'export.downloaded'];
    for (let i = 0; i < 9; i++) await log.append(rec(i % 3 === 0 ? 'exp_x' : `exp_${i}`, actions[i % 3], i));
    const forX = await log.entries({ subject: 'exp_x' });
    expect(forX.map((e) => e.seq)).toEqual([1, 4, 7]);
    expect(forX.every((e) => e.subject === 'exp_x')).toBe(true);
    expect((await log.entries({ subject: 'exp_x', afterSeq: 1 })).map((e) => e.seq)).toEqual([4, 7]);
    expect((await log.entries({ subject: 'exp_x', limit: 2 })).map((e) => e.seq)).toEqual([1, 4]);
    expect(await log.entries({ subject: 'exp_none' })).toEqual([]);

    expect((await log.entries({ afterSeq: 6 })).map((e) => e.seq)).toEqual([7, 8, 9]);
    expect((await log.entries({ afterSeq: 2, limit: 3 })).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(await log.entries({ afterSeq: 9 })).toEqual([]);
    // A page verifies against the entry before it.
    const all = await log.entries();
    const page = await log.entries({ afterSeq: 4, limit: 3 });
    expect(verifyChain(page, { after: all[3]! })).toEqual({ ok: true, count: 3 });
  });

  it('reads past DynamoDB pages when no limit is given', async () => {
    // 1 MB pages: entries with large details make several pages out of a modest trail.
    const big = 'x'.repeat(1900);
    const many = Array.from({ length: 40 }, (_, i) => ({
      ...rec('exp_big', 'export.failed'),
      details: Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`k${k}`, `${i}${big}`])),
    }));
    for (const r of many) await log.append(r);
    let queries = 0;
    intercept = (args, next) => {
      if (args.input.KeyConditionExpression !== undefined) queries++;
      return next(args);
    };
    const stored = await log.entries();
    expect(queries).toBeGreaterThan(1);
    expect(stored).toHaveLength(40);
    expect(verifyChain(stored)).toEqual({ ok: true, count: 40 });
  });

  it('lets verifyChain catch an item edited directly in the table', async () => {
    for (let i = 0; i < 5; i++) await log.append(rec('exp_a', 'export.created', i));
    await db.documents.send(
      new UpdateCommand({
        TableName: db.tables.controlTable,
        Key: auditKeys.entry(3),
        UpdateExpression: 'SET actor = :actor',
        ExpressionAttributeValues: { ':actor': 'tok_someoneelse' },
      }),
    );
    expect(verifyChain(await log.entries())).toEqual({
      ok: false,
      seq: 3,
      reason: "hash does not match the entry's contents (the entry was altered)",
    });

    // An editor who also recomputes the hash is caught by the next link.
    const [, , third] = await log.entries();
    const rehashed = chainNext({ seq: 2, hash: third!.prevHash }, { ...third!, details: { n: 2 } });
    await db.documents.send(
      new UpdateCommand({
        TableName: db.tables.controlTable,
        Key: auditKeys.entry(3),
        UpdateExpression: 'SET #hash = :hash',
        ExpressionAttributeNames: { '#hash': 'hash' },
        ExpressionAttributeValues: { ':hash': rehashed.hash },
      }),
    );
    expect(verifyChain(await log.entries())).toMatchObject({
      ok: false,
      seq: 4,
      reason: expect.stringMatching(/prevHash/),
    });
  });

  it('refuses to build on an entry that does not link to the head', async () => {
    await log.append(rec('exp_a'));
    const forged = chainNext({ seq: 1, hash: 'f'.repeat(64) }, rec('exp_forged'));
    await db.documents.send(
      new PutCommand({ TableName: db.tables.controlTable, Item: { ...auditKeys.entry(2), ...forged } }),
    );
    await expect(log.append(rec('exp_a'))).rejects.toThrow(AuditChainError);
    expect(await head()).toMatchObject({ seq: 1 });
  });

  it('rejects an invalid record or query before touching the table', async () => {
    await expect(log.append({ ...rec('exp_a'), at: 'yesterday' })).rejects.toThrow(ValidationError);
    await expect(log.entries({ limit: 0 })).rejects.toThrow(ValidationError);
    await expect(log.entries({ afterSeq: -1 })).rejects.toThrow(ValidationError);
    expect(await log.entries()).toEqual([]);
  });

  it('reports DynamoDB failures as DependencyError', async () => {
    const missing = new DynamoAuditLog(db.documents, 'NoSuchTable');
    await expect(missing.append(rec('exp_a'))).rejects.toThrow(DependencyError);
    await expect(missing.entries()).rejects.toThrow(DependencyError);
    await expect(missing.entries()).rejects.toThrow(/NoSuchTable.*ResourceNotFoundException/);
  });

  it('reads a seq range (toSeq), per subject too, and reports the real end as its head', async () => {
    for (let i = 0; i < 6; i++)
      await log.append(rec(i % 2 === 0 ? 'exp_even' : 'exp_odd', 'export.created', i));
    expect((await log.entries({ afterSeq: 1, toSeq: 4 })).map((e) => e.seq)).toEqual([2, 3, 4]);
    expect((await log.entries({ subject: 'exp_even', toSeq: 4 })).map((e) => e.seq)).toEqual([1, 3]);
    expect(await log.entries({ afterSeq: 4, toSeq: 4 })).toEqual([]);
    const all = await log.entries();
    expect(await log.head()).toEqual({ seq: 6, hash: all[5]!.hash });
  });
});

describe('DynamoAuditChainStore checkpoint record', () => {
  it('only ever moves forward, so concurrent checkpoint writers cannot move it back', async () => {
    const store = new DynamoAuditChainStore(db.documents, db.tables.controlTable);
    expect(await store.readCheckpointMark()).toBeUndefined();
    const at = '2026-04-20T09:00:00.000Z';
    expect(await store.advanceCheckpointMark({ seq: 100, hash: 'a'.repeat(64), at })).toBe(true);
    expect(await store.advanceCheckpointMark({ seq: 100, hash: 'b'.repeat(64), at })).toBe(false);
    expect(await store.advanceCheckpointMark({ seq: 99, hash: 'c'.repeat(64), at })).toBe(false);
    expect(await store.readCheckpointMark()).toEqual({ seq: 100, hash: 'a'.repeat(64), at });
    const racing = await Promise.all(
      [150, 200, 120].map((seq) => store.advanceCheckpointMark({ seq, hash: 'd'.repeat(64), at })),
    );
    expect(racing[1]).toBe(true);
    expect((await store.readCheckpointMark())?.seq).toBe(200);
    const { Item } = await db.documents.send(
      new GetCommand({ TableName: db.tables.controlTable, Key: auditKeys.checkpoint, ConsistentRead: true }),
    );
    expect(Item).toEqual({ ...auditKeys.checkpoint, seq: 200, hash: 'd'.repeat(64), at });
  });

  it('writes signed checkpoints from appends when asked to, recording the last one beside the chain', async () => {
    const objects = new MemoryAuditStore();
    const signer = testSigner();
    const signing = new DynamoAuditLog(db.documents, db.tables.controlTable, {
      checkpoints: { objects, signer, every: 3, now: () => new Date('2026-04-20T10:00:00.000Z') },
    });
    for (let i = 0; i < 7; i++) await signing.append(rec('exp_cp', 'export.created', i));
    const entries = await signing.entries();
    const latest = await readLatestCheckpoint(objects);
    expect(latest).toMatchObject({ seq: 6, hash: entries[5]!.hash });
    expect(verifyCheckpointSignature(latest!, signer.publicKeyPem)).toBe(true);
    expect([...objects.objects.keys()].sort()).toEqual([
      'audit/checkpoints/000000000001.json',
      'audit/checkpoints/000000000003.json',
      'audit/checkpoints/000000000006.json',
      'audit/checkpoints/latest.json',
    ]);
    const store = new DynamoAuditChainStore(db.documents, db.tables.controlTable);
    expect(await store.readCheckpointMark()).toEqual({ seq: 6, hash: latest!.hash, at: latest!.at });
  });
});
