import { appendEntry } from '../../../functions/core/audit/append-entry.ts';
import {
  AuditChainError,
  type AuditEntry,
  type AuditRecord,
  chainNext,
  GENESIS_HASH,
  verifyChain,
} from '../../../functions/core/audit/audit-chain.ts';
import { AuditTrail } from '../../../functions/core/audit/audit-trail.ts';
import { DependencyError, ValidationError } from '../../../functions/core/errors.ts';
import { MemoryAuditStore } from '../../support/memory-audit-store.ts';

/** The append rules (functions/core/audit/append-entry.ts) against an in-memory store. */

let clock = Date.parse('2026-04-20T09:00:00.000Z');
function rec(subject: string, n?: number): AuditRecord {
  clock += 1000;
  return {
    action: 'export.created',
    subject,
    actor: 'tok_0123456789ab',
    at: new Date(clock).toISOString(),
    ...(n === undefined ? {} : { details: { n } }),
  };
}

const noWait = { sleep: async () => undefined };
let store: MemoryAuditStore;
beforeEach(() => {
  store = new MemoryAuditStore();
});

describe('appendEntry', () => {
  it('reads the head, puts the next entry and moves the head, in that order', async () => {
    const first = await appendEntry(store, rec('exp_a'));
    const second = await appendEntry(store, rec('exp_b'));
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.prevHash).toBe(first.hash);
    expect(store.head).toEqual({ seq: 2, hash: second.hash });
    expect(store.calls).toEqual([
      'readHead',
      'putEntryIfAbsent',
      'moveHead',
      'readHead',
      'putEntryIfAbsent',
      'moveHead',
    ]);
    expect(verifyChain(store.all())).toEqual({ ok: true, count: 2 });
  });

  it('gives 20 interleaved appenders seq 1..20 and one chain holding each of them once', async () => {
    // Every store call yields, so the appenders interleave and keep colliding on the same slot.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) => appendEntry(store, rec(`exp_${n % 3}`, n), noWait)),
    );
    expect(results.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const all = store.all();
    expect(verifyChain(all)).toEqual({ ok: true, count: 20 });
    expect(all.map((e) => e.details?.n).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    for (const entry of results) expect(all[entry.seq - 1]).toEqual(entry);
    expect(store.head).toEqual({ seq: 20, hash: all[19]!.hash });
  });

  it('catches up a head left behind by an appender that died after writing its entry', async () => {
    for (let i = 0; i < 3; i++) await appendEntry(store, rec('exp_a', i));
    const orphan = chainNext(store.head, rec('exp_crashed'));
    store.slots.set(4, { entry: orphan, writer: 'someone-else' });
    const next = await appendEntry(store, rec('exp_a'));
    expect(next.seq).toBe(5);
    expect(next.prevHash).toBe(orphan.hash);
    expect(store.head).toEqual({ seq: 5, hash: next.hash });
    expect(verifyChain(store.all())).toEqual({ ok: true, count: 5 });
  });

  it('catches up when the very first appender died before creating the head', async () => {
    store.slots.set(1, { entry: chainNext(undefined, rec('exp_first')), writer: 'w' });
    const next = await appendEntry(store, rec('exp_second'));
    expect(next.seq).toBe(2);
    expect(verifyChain(store.all())).toEqual({ ok: true, count: 2 });
  });

  it('recognises its own entry when a put was applied but answered as refused (a resent write)', async () => {
    await appendEntry(store, rec('exp_a'));
    const original = store.putEntryIfAbsent.bind(store);
    let resent = 0;
    store.putEntryIfAbsent = async (entry, writer) => {
      await original(entry, writer);
      resent++;
      return original(entry, writer); // the resend finds the slot taken by the first send
    };
    const entry = await appendEntry(store, rec('exp_a', 7), { newWriterId: () => 'writer-7' });
    expect(resent).toBe(1);
    expect(entry.seq).toBe(2);
    expect(store.all()).toHaveLength(2);
    expect(store.slots.get(2)).toEqual({ entry, writer: 'writer-7' });
    expect(store.head).toEqual({ seq: 2, hash: entry.hash });
  });

  it('returns its entry when someone else moved the head past it first', async () => {
    store.before.moveHead = (_from, to) => {
      // Another appender saw our entry and moved the head for us before we did.
      const { seq, hash } = to as AuditEntry;
      store.head = { seq, hash };
    };
    const entry = await appendEntry(store, rec('exp_a'));
    expect(entry.seq).toBe(1);
    expect(store.head).toEqual({ seq: 1, hash: entry.hash });
  });

  it('refuses to build on an entry that does not link to the head, and leaves the head alone', async () => {
    await appendEntry(store, rec('exp_a'));
    store.slots.set(2, {
      entry: chainNext({ seq: 1, hash: 'f'.repeat(64) }, rec('exp_forged')),
      writer: 'x',
    });
    await expect(appendEntry(store, rec('exp_a'))).rejects.toThrow(
      new AuditChainError(
        'Audit entry 2 does not link to entry 1: the chain was altered; appending stops until it is investigated.',
      ),
    );
    expect(store.head?.seq).toBe(1);
  });

  it('refuses to build on an entry that does not match its hash', async () => {
    await appendEntry(store, rec('exp_a'));
    const real = chainNext(store.head, rec('exp_b'));
    store.slots.set(2, { entry: { ...real, actor: 'tok_edited00000' }, writer: 'x' });
    await expect(appendEntry(store, rec('exp_a'))).rejects.toThrow(/entry 2 does not match its hash/);
    expect(store.head?.seq).toBe(1);
  });

  it('backs off with jitter below a capped exponential after each lost race, then gives up', async () => {
    await appendEntry(store, rec('exp_a'));
    // A rival takes every slot we aim for and moves the head itself each time.
    store.before.putEntryIfAbsent = (entry) => {
      const e = entry as AuditEntry;
      const rival = chainNext(store.head, rec('exp_rival'));
      if (rival.seq === e.seq) {
        store.slots.set(rival.seq, { entry: rival, writer: 'rival' });
        store.head = { seq: rival.seq, hash: rival.hash };
      }
    };
    const delays: number[] = [];
    const error = await appendEntry(store, rec('exp_a'), {
      maxAttempts: 5,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      random: () => 0.999,
      sleep: async (ms) => {
        delays.push(ms);
      },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as Error).message).toMatch(/lost the race to other writers 5 times/);
    // 10·2^1, 10·2^2, then capped at 50; never more than the cap.
    expect(delays.map((d) => Math.round(d))).toEqual([20, 40, 50, 50]);
    // The rival's entries form a valid chain: losing never damaged it.
    expect(verifyChain(store.all())).toEqual({ ok: true, count: 6 });
  });

  it('checks the record before touching the store', async () => {
    await expect(appendEntry(store, { ...rec('exp_a'), at: 'yesterday' })).rejects.toThrow(ValidationError);
    expect(store.calls).toEqual([]);
  });
});

describe('AuditTrail reads', () => {
  it('pages past the store limit when no limit is given, and honours afterSeq, toSeq, subject, limit', async () => {
    const trail = new AuditTrail(store);
    for (let i = 0; i < 1203; i++) await trail.append(rec(i % 100 === 0 ? 'exp_x' : 'exp_y', i));
    const all = await trail.entries();
    expect(all).toHaveLength(1203);
    expect(store.calls.filter((c) => c === 'query')).toHaveLength(2);
    expect(verifyChain(all)).toEqual({ ok: true, count: 1203 });
    expect((await trail.entries({ afterSeq: 10, toSeq: 13 })).map((e) => e.seq)).toEqual([11, 12, 13]);
    expect((await trail.entries({ afterSeq: 10, toSeq: 10 })).map((e) => e.seq)).toEqual([]);
    expect((await trail.entries({ subject: 'exp_x', afterSeq: 1, limit: 3 })).map((e) => e.seq)).toEqual([
      101, 201, 301,
    ]);
  });

  it('refuses a bad query before reading', async () => {
    const trail = new AuditTrail(store);
    for (const bad of [{ limit: 0 }, { limit: 1001 }, { afterSeq: -1 }, { toSeq: 0 }, { subject: '' }]) {
      await expect(trail.entries(bad)).rejects.toThrow(ValidationError);
    }
    expect(store.calls).toEqual([]);
  });

  it("reports the chain's real end as its head, past an entry whose appender died before moving it", async () => {
    const trail = new AuditTrail(store);
    expect(await trail.head()).toBeUndefined();
    await trail.append(rec('exp_a'));
    const orphan = chainNext(store.head, rec('exp_b'));
    store.slots.set(2, { entry: orphan, writer: 'w' });
    expect(await trail.head()).toEqual({ seq: 2, hash: orphan.hash });
    expect(store.head?.seq).toBe(1); // reading moved nothing
  });
});
