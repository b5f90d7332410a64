import { canonicalEventJson, type DecisionEvent } from '../../core/events/decision-event.ts';
import { dayOf, eventSortKey } from '../../core/events/time-range.ts';
import type { EventFilter } from '../../core/events/event-filter.ts';
import { DECISION_EVENTS_TABLE } from './tables.ts';

/**
 * The DecisionEvents key layout (see tables.ts). Each day is split over SHARD_COUNT partitions
 * so one busy day never funnels every write into a single partition; a reader queries all shards
 * of a day and merges them by sk, which is the export order (timestamp, id).
 */

export const SHARD_COUNT = 4;

export interface EventKeys {
  readonly pk: string;
  readonly sk: string;
  readonly teamPk: string;
  readonly policyPk: string;
  readonly teamPolicyPk: string;
}

/**
 * The write-once record of an event id (core/events/event-identity.ts): its own partition, so
 * conditional puts of different ids never contend, and no GSI attributes, so it stays out of
 * every index and every day's range read.
 */
export function eventIdKey(id: string): { readonly pk: string; readonly sk: string } {
  return { pk: `ID#${id}`, sk: 'ID' };
}

/** The stored item: keys plus `e`, the canonical JSON that exports write byte for byte. */
export interface EventItem extends EventKeys {
  readonly e: string;
}

/** Where one day of a filtered read lives: an index (or the base table) and its shard partitions. */
export interface DayPartitions {
  /** undefined means the base table. */
  readonly indexName?: string;
  readonly partitionKeyName: keyof Omit<EventKeys, 'sk'>;
  readonly partitionKeys: readonly string[];
}

/**
 * FNV-1a (32-bit) of the id's UTF-8 bytes, mod SHARD_COUNT. It must never change: the shard is
 * part of the stored key, so a different hash would make existing events unreachable on re-ingest.
 */
export function shardOf(eventId: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(eventId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % SHARD_COUNT;
}

/**
 * Team and policy names may contain '#'. In `T#<team>#<day>#<shard>` and `P#<policy>#...` the
 * fixed-width `#YYYY-MM-DD#<digit>` suffix already makes the key unambiguous (it is parsed from the
 * right), but `TP#<team>#<policy>#...` has two free-text parts: team `a#b` + policy `c` and team `a`
 * + policy `b#c` would collide. So '%' and '#' inside a name are percent-escaped; names without
 * them keep their plain spelling in the key.
 */
function keyPart(name: string): string {
  return name.replaceAll('%', '%25').replaceAll('#', '%23');
}

const basePk = (day: string, shard: number) => `D#${day}#${shard}`;
const teamPk = (team: string, day: string, shard: number) => `T#${keyPart(team)}#${day}#${shard}`;
const policyPk = (policy: string, day: string, shard: number) => `P#${keyPart(policy)}#${day}#${shard}`;
const teamPolicyPk = (team: string, policy: string, day: string, shard: number) =>
  `TP#${keyPart(team)}#${keyPart(policy)}#${day}#${shard}`;

export function eventKeys(event: DecisionEvent): EventKeys {
  const day = dayOf(event.timestamp);
  const shard = shardOf(event.id);
  return {
    pk: basePk(day, shard),
    sk: eventSortKey(event),
    teamPk: teamPk(event.team, day, shard),
    policyPk: policyPk(event.policy, day, shard),
    teamPolicyPk: teamPolicyPk(event.team, event.policy, day, shard),
  };
}

export function eventItem(event: DecisionEvent): EventItem {
  return { ...eventKeys(event), e: canonicalEventJson(event) };
}

/** The index whose partition key is `attribute`, taken from the layout so the two cannot drift. */
function indexKeyedBy(attribute: string): string {
  const index = DECISION_EVENTS_TABLE.indexes.find((i) => i.partitionKey.name === attribute);
  if (index === undefined) throw new Error(`DecisionEvents has no index keyed by ${attribute}`);
  return index.indexName;
}

/** The narrowest index that answers the filter, and the partitions holding `day` (YYYY-MM-DD). */
export function dayPartitions(filter: Pick<EventFilter, 'team' | 'policy'>, day: string): DayPartitions {
  const shards = Array.from({ length: SHARD_COUNT }, (_, shard) => shard);
  const { team, policy } = filter;
  if (team !== undefined && policy !== undefined) {
    return {
      indexName: indexKeyedBy('teamPolicyPk'),
      partitionKeyName: 'teamPolicyPk',
      partitionKeys: shards.map((s) => teamPolicyPk(team, policy, day, s)),
    };
  }
  if (team !== undefined) {
    return {
      indexName: indexKeyedBy('teamPk'),
      partitionKeyName: 'teamPk',
      partitionKeys: shards.map((s) => teamPk(team, day, s)),
    };
  }
  if (policy !== undefined) {
    return {
      indexName: indexKeyedBy('policyPk'),
      partitionKeyName: 'policyPk',
      partitionKeys: shards.map((s) => policyPk(policy, day, s)),
    };
  }
  return { partitionKeyName: 'pk', partitionKeys: shards.map((s) => basePk(day, s)) };
}
