import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { generateToken, hashToken, newTokenRecord, tokenIdOf } from '../../functions/core/auth/tokens.ts';
import { canonicalEventJson, type DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { eventIdRecord } from '../../functions/core/events/event-identity.ts';
import type { EventFilter } from '../../functions/core/events/event-filter.ts';
import type { IngestResult } from '../../functions/core/events/ingest.ts';
import { type LocalStack, LOCAL_RESOURCES, startLocalStack } from '../../infra/local/local-stack.ts';
import { validEvent } from '../support/decision-events.ts';
import { testStackConfig } from '../support/local-stack-config.ts';

/**
 * Decision events are write-once by id, tried through the local stack's HTTP front with the real
 * authorizer, handlers, dynalite and audit trail: a changed event, a moved event, a team's
 * takeover, concurrent writers and a writer that died half-way.
 */
describe('write-once decision events over the local stack', () => {
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kt-write-once-'));
    stack = await startLocalStack(testStackConfig(dataDir));
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const event = (id: string, overrides: Partial<DecisionEvent> = {}): DecisionEvent =>
    validEvent({ id, ...overrides });

  const post = async (events: unknown[], token = stack.admin.token) => {
    const response = await fetch(`${stack.apiUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ events }),
    });
    return { status: response.status, body: (await response.json()) as IngestResult };
  };

  const tokenFor = async (team?: string) => {
    const token = generateToken();
    await stack.adapters.tokenStore.putToken(
      newTokenRecord(token, {
        name: `gateway ${team ?? 'all'}`,
        scopes: ['events:write'],
        ...(team ? { team } : {}),
      }),
    );
    return token;
  };

  const read = async (filter: EventFilter): Promise<string[]> => {
    const out: string[] = [];
    for await (const stored of stack.adapters.eventStore.streamEvents(filter)) out.push(stored.json);
    return out;
  };
  const DAY: EventFilter = { from: '2026-04-20T00:00:00Z', to: '2026-04-20T23:59:59.999999999Z' };

  /** Every item stored for an id (event items and id records), by scanning, independent of the store. */
  const itemsOf = async (id: string) => {
    const output = await stack.adapters.clients.dynamodb.send(
      new ScanCommand({
        TableName: LOCAL_RESOURCES.eventsTable,
        FilterExpression: 'pk = :record OR contains(sk, :suffix)',
        ExpressionAttributeValues: { ':record': { S: `ID#${id}` }, ':suffix': { S: `#${id}` } },
      }),
    );
    const items = output.Items ?? [];
    return {
      events: items.filter((i) => i.pk?.S?.startsWith('D#')).map((i) => i.e?.S),
      records: items.filter((i) => i.pk?.S === `ID#${id}`).length,
    };
  };

  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

  it('refuses a changed event and a moved event, changes nothing, and audits each attempt', async () => {
    const original = event('evt_wo_tamper');
    const moved = event('evt_wo_moved');
    expect((await post([original, moved])).body).toMatchObject({ written: 2, alreadyStored: 0 });
    const before = await read(DAY);

    const tampered = { ...original, action: 'TAMPERED', tokens: 999 };
    const later = { ...moved, timestamp: '2026-04-21T10:00:00Z' };
    const fresh = event('evt_wo_fresh', { timestamp: '2026-04-22T00:00:00Z' });
    const response = await post([tampered, fresh, later]);
    expect(response.status).toBe(207);
    expect(response.body).toEqual({
      received: 3,
      written: 1,
      alreadyStored: 0,
      conflicts: [
        {
          id: 'evt_wo_tamper',
          index: 0,
          conflict: 'content',
          reason: 'the id is already stored with different content; stored events never change',
        },
        {
          id: 'evt_wo_moved',
          index: 2,
          conflict: 'time',
          reason: 'the id is already stored with timestamp 2026-04-20T09:15:32Z; stored events never change',
        },
      ],
      failed: [],
    });
    expect(await read(DAY)).toEqual(before);
    expect(await itemsOf('evt_wo_moved')).toEqual({ events: [canonicalEventJson(moved)], records: 1 });
    expect(await read({ from: '2026-04-21T00:00:00Z', to: '2026-04-21T23:59:59Z' })).toEqual([]);

    const audit = await stack.adapters.auditLog.entries({ subject: 'evt_wo_tamper' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'event.conflict',
      subject: 'evt_wo_tamper',
      actor: tokenIdOf(hashToken(stack.admin.token)),
      details: {
        conflict: 'content',
        storedDigest: sha256(canonicalEventJson(original)),
        offeredDigest: sha256(canonicalEventJson(tampered)),
        storedTimestamp: original.timestamp,
        offeredTimestamp: original.timestamp,
      },
    });
    const movedAudit = await stack.adapters.auditLog.entries({ subject: 'evt_wo_moved' });
    expect(movedAudit.map((e) => e.details?.conflict)).toEqual(['time']);

    // An only-conflicts batch is a 207 too, and every new attempt is audited again.
    expect((await post([tampered])).status).toBe(207);
    expect(await stack.adapters.auditLog.entries({ subject: 'evt_wo_tamper' })).toHaveLength(2);
  });

  it('treats an identical repeat as already stored, audits nothing, and a batch of repeats as 200', async () => {
    const once = event('evt_wo_repeat', { timestamp: '2026-04-20T10:00:00Z' });
    expect((await post([once])).body).toMatchObject({ written: 1, alreadyStored: 0 });
    const again = await post([once, once]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 1, written: 0, alreadyStored: 1, conflicts: [], failed: [] });
    expect(await stack.adapters.auditLog.entries({ subject: 'evt_wo_repeat' })).toEqual([]);
  });

  it('lets one of many concurrent writers of an id win; the rest conflict and one item is stored', async () => {
    const writers = Array.from({ length: 10 }, (_, n) =>
      event('evt_wo_race', { timestamp: '2026-04-20T11:00:00Z', tokens: n }),
    );
    const responses = await Promise.all(writers.map((w) => post([w])));
    const won = responses.filter((r) => r.body.written === 1);
    expect(won).toHaveLength(1);
    expect(responses.filter((r) => r.status === 207 && r.body.conflicts.length === 1)).toHaveLength(9);
    const winner = writers[responses.indexOf(won[0]!)]!;
    expect(await itemsOf('evt_wo_race')).toEqual({ events: [canonicalEventJson(winner)], records: 1 });
    expect(await stack.adapters.auditLog.entries({ subject: 'evt_wo_race' })).toHaveLength(9);
  });

  it('heals a writer that recorded the id and died before writing the event, on its retry', async () => {
    const lost = event('evt_wo_crash', { timestamp: '2026-04-20T12:00:00Z' });
    // The first half of a write, as a crash would leave it: the id record without the event item.
    expect(await stack.adapters.eventStore.claimEventIds([eventIdRecord(lost)])).toEqual([
      { outcome: 'claimed' },
    ]);
    expect(await itemsOf('evt_wo_crash')).toEqual({ events: [], records: 1 });
    const retry = await post([lost]);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ written: 0, alreadyStored: 1, conflicts: [] });
    expect(await itemsOf('evt_wo_crash')).toEqual({ events: [canonicalEventJson(lost)], records: 1 });
    // Someone else's content cannot use the half-written id either.
    expect((await post([{ ...lost, action: 'block' }])).body.conflicts).toHaveLength(1);
  });

  it("does not let a team token take over another team's event, and tells it nothing about it", async () => {
    const engineering = event('evt_wo_team', { timestamp: '2026-04-20T13:00:00Z' });
    expect((await post([engineering], await tokenFor('engineering'))).body.written).toBe(1);
    const support = await tokenFor('support');
    const takeover = await post([{ ...engineering, team: 'support', action: 'allow' }], support);
    expect(takeover.status).toBe(207);
    expect(takeover.body.conflicts).toEqual([
      {
        id: 'evt_wo_team',
        index: 0,
        conflict: 'content',
        reason: 'the id is already stored for another event; stored events never change',
      },
    ]);
    expect(await read({ ...DAY, team: 'engineering' })).toContain(canonicalEventJson(engineering));
    expect(await read({ ...DAY, team: 'support' })).toEqual([]);
    const [entry] = await stack.adapters.auditLog.entries({ subject: 'evt_wo_team' });
    expect(entry?.details).toMatchObject({ storedTeam: 'engineering', offeredTeam: 'support' });
    // Writing the other team's event as it is stays forbidden outright.
    expect((await post([engineering], support)).status).toBe(403);
  });

  it('keeps range bounds and order exact at nanosecond precision', async () => {
    const from = '2026-04-25T10:00:00.000000100Z';
    const to = '2026-04-25T10:00:00.000900000Z';
    const at = (id: string, timestamp: string) => event(id, { timestamp });
    const events = [
      at('evt_wo_ns_a', '2026-04-25T10:00:00.000000099Z'), // 1 ns before from
      at('evt_wo_ns_z', '2026-04-25T10:00:00.0000001Z'), // at from
      at('evt_wo_ns_y', '2026-04-25T10:00:00.000000101Z'),
      at('evt_wo_ns_x', '2026-04-25T10:00:00.0005Z'),
      at('evt_wo_ns_w', '2026-04-25T10:00:00.000899999Z'),
      at('evt_wo_ns_v', '2026-04-25T10:00:00.0009Z'), // at to
      at('evt_wo_ns_b', '2026-04-25T10:00:00.000900001Z'), // 1 ns after to
    ];
    expect((await post(events)).body.written).toBe(7);
    const ids = (await read({ from, to })).map((json) => (JSON.parse(json) as DecisionEvent).id);
    // In time order, which here is the reverse of id order; both edges in, both neighbours out.
    expect(ids).toEqual(['evt_wo_ns_z', 'evt_wo_ns_y', 'evt_wo_ns_x', 'evt_wo_ns_w', 'evt_wo_ns_v']);
  });
});
