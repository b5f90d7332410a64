import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { type EmbeddedServer, startEmbeddedDynamoDb } from '../../infra/local/embedded-dynamodb.ts';

/**
 * TransactWriteItems as the embedded DynamoDB answers it (infra/local/dynalite-transact-write.cjs),
 * through the real server and the AWS SDK: all or nothing, conditions, cancellation reasons in
 * order, index entries, locks shared with single-item writes, client tokens, and persistence.
 */
const TABLE = 'TxItems';
let dataDir: string;
let server: EmbeddedServer;
let client: DynamoDBClient;

async function start(): Promise<void> {
  server = await startEmbeddedDynamoDb({ port: 0, path: path.join(dataDir, 'dynamodb') });
  client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: server.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

async function stop(): Promise<void> {
  client.destroy();
  await server.close();
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-tx-'));
  await start();
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'owner', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byOwner',
          KeySchema: [
            { AttributeName: 'owner', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
});

afterAll(async () => {
  await stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const item = (pk: string, fields: Record<string, string> = {}): Record<string, AttributeValue> => ({
  pk: { S: pk },
  ...Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, { S: value }])),
});

const claim = (pk: string, fields: Record<string, string> = {}, returnOld = true): TransactWriteItem => ({
  Put: {
    TableName: TABLE,
    Item: item(pk, fields),
    ConditionExpression: 'attribute_not_exists(pk)',
    ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
  },
});

const transact = (items: TransactWriteItem[], token?: string) =>
  client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: token }));

const refusal = (items: TransactWriteItem[]) =>
  transact(items).then(
    () => undefined,
    (error: unknown) => error,
  );

async function get(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  return (
    await client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true }))
  ).Item;
}

async function owned(owner: string): Promise<string[]> {
  const out = await client.send(
    new QueryCommand({
      TableName: TABLE,
      IndexName: 'byOwner',
      KeyConditionExpression: '#o = :o',
      ExpressionAttributeNames: { '#o': 'owner' },
      ExpressionAttributeValues: { ':o': { S: owner } },
    }),
  );
  return (out.Items ?? []).map((found) => found.pk!.S!);
}

describe('TransactWriteItems on the embedded DynamoDB', () => {
  it('applies every put, index entries included', async () => {
    await transact([claim('a1', { owner: 'ann' }), claim('a2', { owner: 'ann' }), claim('a3')]);
    expect(await get('a1')).toEqual(item('a1', { owner: 'ann' }));
    expect(await get('a3')).toEqual(item('a3'));
    expect(await owned('ann')).toEqual(['a1', 'a2']);
  });

  it('writes nothing when one condition fails, and names each action in order', async () => {
    const error = (await refusal([
      claim('b1', { owner: 'bob' }),
      claim('a1', { owner: 'bob' }),
      claim('a2', { owner: 'bob' }, false),
      claim('b2', { owner: 'bob' }),
    ])) as { name: string; message: string; CancellationReasons: unknown[] };
    expect(error.name).toBe('TransactionCanceledException');
    expect(error.message).toMatch(/\[None, ConditionalCheckFailed, ConditionalCheckFailed, None\]/);
    expect(error.CancellationReasons).toEqual([
      { Code: 'None' },
      // The stored item only for the action that asked for it (ALL_OLD).
      {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        Item: item('a1', { owner: 'ann' }),
      },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
      { Code: 'None' },
    ]);
    expect(await get('b1')).toBeUndefined();
    expect(await get('b2')).toBeUndefined();
    expect(await owned('bob')).toEqual([]);
    expect(await get('a1')).toEqual(item('a1', { owner: 'ann' }));
  });

  it('replaces, deletes and checks, moving and removing index entries', async () => {
    await transact([
      { Put: { TableName: TABLE, Item: item('a1', { owner: 'cid' }) } },
      { Delete: { TableName: TABLE, Key: { pk: { S: 'a2' } } } },
      {
        ConditionCheck: {
          TableName: TABLE,
          Key: { pk: { S: 'a3' } },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    ]);
    expect(await owned('ann')).toEqual([]);
    expect(await owned('cid')).toEqual(['a1']);
    expect(await get('a2')).toBeUndefined();
    // A failing check cancels the put beside it.
    const error = (await refusal([
      { Put: { TableName: TABLE, Item: item('c9') } },
      {
        ConditionCheck: {
          TableName: TABLE,
          Key: { pk: { S: 'a2' } },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    ])) as { CancellationReasons: { Code: string }[] };
    expect(error.CancellationReasons.map((reason) => reason.Code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await get('c9')).toBeUndefined();
  });

  it('refuses what DynamoDB refuses, naming the rule, and writes nothing', async () => {
    const cases: [TransactWriteItem[], string, RegExp][] = [
      [[claim('d1'), claim('d1')], 'ValidationException', /multiple operations on one item/],
      [
        [
          {
            Update: {
              TableName: TABLE,
              Key: { pk: { S: 'd1' } },
              UpdateExpression: 'SET x = :x',
              ExpressionAttributeValues: { ':x': { S: '1' } },
            },
          },
        ],
        'ValidationException',
        /not Update/,
      ],
      [
        Array.from({ length: 101 }, (_, n) => claim(`d${n}`)),
        'ValidationException',
        /less than or equal to 100/,
      ],
      [[{ Put: { TableName: 'NoSuchTable', Item: item('d1') } }], 'ResourceNotFoundException', /not found/],
      [
        [{ Put: { TableName: TABLE, Item: item('d1'), ConditionExpression: 'attribute_not_exists(' } }],
        'ValidationException',
        /ConditionExpression/,
      ],
      [[{ Put: { TableName: TABLE, Item: { other: { S: 'x' } } } }], 'ValidationException', /key/],
      // Eleven items of 390 KB each: every one within the item limit, together over 4 MB.
      [
        Array.from({ length: 11 }, (_, n) => ({
          Put: { TableName: TABLE, Item: item(`d${n}`, { blob: 'x'.repeat(390 * 1024) }) },
        })),
        'ValidationException',
        /exceeds the maximum allowed size of 4 MB/,
      ],
    ];
    for (const [items, name, message] of cases) {
      const error = (await refusal(items)) as Error;
      expect([error.name, error.message]).toEqual([name, expect.stringMatching(message)]);
    }
    expect(await get('d1')).toBeUndefined();
    expect(await get('d0')).toBeUndefined();
  });

  it('lets exactly one of many concurrent transactions claim each item, all or nothing', async () => {
    // 20 transactions of 10 consecutive claims over 30 ids, each overlapping its neighbours, with single
    // conditional puts of the same ids racing them.
    const ids = (n: number) => Array.from({ length: 10 }, (_, k) => `race${(n * 3 + k) % 30}`);
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, n) => transact(ids(n).map((id) => claim(id, { by: `tx${n}` })))),
      ...Array.from({ length: 30 }, (_, k) =>
        client.send(
          new PutItemCommand({
            TableName: TABLE,
            Item: item(`race${k}`, { by: 'single' }),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      ),
    ]);
    const stored = new Map<string, string>();
    for (let k = 0; k < 30; k++) stored.set(`race${k}`, (await get(`race${k}`))!.by!.S!);
    results.slice(0, 20).forEach((result, n) => {
      const mine = ids(n).filter((id) => stored.get(id) === `tx${n}`);
      // A transaction that went through holds all its ids; one that was cancelled holds none.
      expect(mine).toHaveLength(result.status === 'fulfilled' ? 10 : 0);
    });
    const singles = results.slice(20).filter((result) => result.status === 'fulfilled').length;
    expect([...stored.values()].filter((by) => by === 'single')).toHaveLength(singles);
  });

  it('treats a repeated client token as done, and refuses it with other actions', async () => {
    await transact([claim('e1', { n: '1' })], 'token-e1');
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item('e1', { n: '2' }) }));
    // The SDK repeats a call with its token when a response is lost: the repeat is not applied again.
    await transact([claim('e1', { n: '1' })], 'token-e1');
    expect(await get('e1')).toEqual(item('e1', { n: '2' }));
    const error = (await transact([claim('e2')], 'token-e1').catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('IdempotentParameterMismatchException');
    expect(await get('e2')).toBeUndefined();
  });

  it('keeps what it wrote across a restart', async () => {
    await transact([claim('f1', { owner: 'fay' }), claim('f2', { owner: 'fay' })]);
    await stop();
    await start();
    expect(await get('f1')).toEqual(item('f1', { owner: 'fay' }));
    expect(await owned('fay')).toEqual(['f1', 'f2']);
  });
});
