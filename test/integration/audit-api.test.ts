import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { verifyAudit } from '../../cli/audit/verify-action.ts';
import type { CliContext, GlobalOptions } from '../../cli/context.ts';
import { exitCodeFor } from '../../cli/errors.ts';
import { auditKeys } from '../../functions/adapters/dynamodb/audit-log.ts';
import { type AuditEntry, chainNext, verifyChain } from '../../functions/core/audit/audit-chain.ts';
import {
  type AuditCheckpoint,
  LATEST_CHECKPOINT_KEY,
  signCheckpoint,
  verifyCheckpointSignature,
} from '../../functions/core/audit/checkpoint.ts';
import { generateToken, newTokenRecord } from '../../functions/core/auth/tokens.ts';
import type { Scope } from '../../functions/core/auth/token-record.ts';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { memoryIo } from '../unit/cli/helpers.ts';
import { testStackConfig } from '../support/local-stack-config.ts';
import { problem } from '../support/call-api.ts';

/**
 * GET /v1/audit and /v1/audit/checkpoint over real HTTP through the local stack (authorizer, API
 * handler, dynalite, s3rver, the local signing key), 20 concurrent appends through the stack's
 * own adapters, and `kt audit verify` (its action, in process) catching each kind of tampering
 * done directly in the table.
 */

let stack: LocalStack;
let dataDir: string;
const table = LOCAL_RESOURCES.controlTable;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-audit-api-'));
  stack = await startLocalStack(testStackConfig(dataDir));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function get(route: string, token = stack.admin.token): Promise<Response> {
  return fetch(`${stack.apiUrl}${route}`, { headers: { authorization: `Bearer ${token}` } });
}

async function addToken(scopes: Scope[], team?: string): Promise<string> {
  const token = generateToken();
  await stack.adapters.tokenStore.putToken(
    newTokenRecord(token, {
      name: `audit test ${scopes.join(' ')}`,
      scopes,
      ...(team === undefined ? {} : { team }),
    }),
  );
  return token;
}

interface Page {
  entries: AuditEntry[];
  cursor?: string;
  head: { seq: number; hash: string };
}

async function allEntries(
  limit: number,
): Promise<{ entries: AuditEntry[]; pages: number; head: Page['head'] }> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  let pages = 0;
  let head: Page['head'] = { seq: -1, hash: '' };
  do {
    const response = await get(`/v1/audit?limit=${limit}${cursor === undefined ? '' : `&cursor=${cursor}`}`);
    expect(response.status).toBe(200);
    // Parsed here, not by response.json(): jest's realm must own the objects canonicalJson checks.
    const page = JSON.parse(await response.text()) as Page;
    entries.push(...page.entries);
    cursor = page.cursor;
    head = page.head;
    pages++;
  } while (cursor !== undefined);
  return { entries, pages, head };
}

describe('the audit trail through the local stack', () => {
  it('takes 20 concurrent appends as one unbroken chain of 20 entries', async () => {
    const appended = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        stack.adapters.auditLog.append({
          action: n % 2 === 0 ? 'export.created' : 'export.completed',
          subject: `exp_concurrent${String(n).padStart(2, '0')}`,
          actor: n % 2 === 0 ? 'tok_0123456789ab' : 'workflow',
          at: new Date(Date.UTC(2026, 3, 20, 9, 0, n)).toISOString(),
          details: { n },
        }),
      ),
    );
    // Entry 1 is the stack's own key.created, written when it started.
    expect(appended.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
    const { entries, pages, head } = await allEntries(8);
    expect(pages).toBe(3);
    expect(entries).toHaveLength(21);
    expect(entries[0]!.action).toBe('key.created');
    expect(verifyChain(entries)).toEqual({ ok: true, count: 21 });
    expect(new Set(entries.slice(1).map((e) => e.subject)).size).toBe(20);
    expect(head).toEqual({ seq: 21, hash: entries[20]!.hash });
  });

  it('serves the signed checkpoint the first append wrote, verifiable with GET /v1/keys', async () => {
    const response = await get('/v1/audit/checkpoint');
    expect(response.status).toBe(200);
    const checkpoint = (await response.json()) as AuditCheckpoint;
    const { entries } = await allEntries(100);
    expect(checkpoint).toMatchObject({ schema: 1, algorithm: 'ECDSA_P256_SHA256' });
    expect(checkpoint.hash).toBe(entries[checkpoint.seq - 1]!.hash);
    const keys = (await (await get('/v1/keys')).json()) as {
      keys: { keyId: string; publicKeyPem: string }[];
    };
    const key = keys.keys.find((k) => k.keyId === checkpoint.keyId);
    expect(key).toBeDefined();
    expect(verifyCheckpointSignature(checkpoint, key!.publicKeyPem)).toBe(true);
  });

  it('filters, and answers bad queries with problem+json naming the fields', async () => {
    const page = (await (await get('/v1/audit?action=export.completed&fromSeq=5&toSeq=12')).json()) as Page;
    expect(page.entries.every((e) => e.action === 'export.completed' && e.seq >= 5 && e.seq <= 12)).toBe(
      true,
    );
    expect(page.entries.length).toBeGreaterThan(0);
    const details = await problem(await get('/v1/audit?fromSeq=0&limit=5000&action=export.viewed'), 400);
    expect(details.errors?.map((e) => e.field)).toEqual(['fromSeq', 'action', 'limit']);
    const unknown = await problem(await get('/v1/audit?from_seq=3'), 400);
    expect(unknown.errors).toEqual([
      {
        field: 'from_seq',
        rule: 'is not a parameter of the audit listing (fromSeq, toSeq, since, until, action, subject, limit, cursor)',
      },
    ]);
  });

  it('lets audit:read tokens in, and refuses tokens without it or restricted to a team (403)', async () => {
    expect((await get('/v1/audit?limit=1', await addToken(['audit:read']))).status).toBe(200);
    const exporter = await addToken(['exports:read', 'exports:write']);
    expect((await problem(await get('/v1/audit', exporter), 403)).detail).toMatch(/audit:read/);
    const team = await addToken(['audit:read'], 'engineering');
    expect((await problem(await get('/v1/audit', team), 403)).detail).toMatch(
      /restricted to team engineering/,
    );
    await problem(await get('/v1/audit/checkpoint', team), 403);
  });
});

describe('kt audit verify against the local stack', () => {
  /** The raw items of entries 1..20 as appended, read before any tampering. */
  const original = new Map<number, Record<string, unknown>>();
  beforeAll(async () => {
    for (let seq = 1; seq <= 20; seq++) original.set(seq, await item(auditKeys.entry(seq)));
  });

  /** `export.created exp_…`: how the verdict names entry `seq`. */
  const named = (seq: number) => `${String(original.get(seq)!.action)} ${String(original.get(seq)!.subject)}`;
  const globals = (): GlobalOptions => ({
    apiUrl: stack.apiUrl,
    token: stack.admin.token,
    outputFormat: 'human',
  });

  async function verify(
    flags: Record<string, string> = {},
  ): Promise<{ code: number; out: string; err: string }> {
    const io = memoryIo({});
    const context: CliContext = { io, version: 'test', secrets: new Set() };
    let code = 0;
    try {
      await verifyAudit(context, globals(), flags);
    } catch (error) {
      code = exitCodeFor(error);
    }
    return { code, out: io.out(), err: io.err() };
  }

  const documents = () => stack.adapters.clients.documents;
  async function item(key: Record<string, string>): Promise<Record<string, unknown>> {
    const { Item } = await documents().send(
      new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
    );
    expect(Item).toBeDefined();
    return Item!;
  }
  const put = (Item: Record<string, unknown>) => documents().send(new PutCommand({ TableName: table, Item }));

  /** Runs `tamper`, then `check`, then puts every item it saved back as it was. */
  async function tampered(
    keys: Record<string, string>[],
    tamper: () => Promise<unknown>,
    check: () => Promise<void>,
  ) {
    const saved = await Promise.all(keys.map(item));
    try {
      await tamper();
      await check();
    } finally {
      for (const original of saved) await put(original);
    }
    expect((await verify()).code).toBe(0);
  }

  it('finds the untouched chain intact, with its checkpoint', async () => {
    const { code, out, err } = await verify();
    const head = await item(auditKeys.head);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(`✓ Audit trail intact: 21 entries, head seq 21 hash ${String(head.hash)}`);
    expect(lines[1]).toMatch(
      /^✓ Checkpoint seq \d+ signed by kt-local-[0-9a-f]{16} at .*: signature valid, chain matches$/,
    );
    // From a later seq, anchored on the entry before it.
    const later = await verify({ fromSeq: '15' });
    expect(later.out).toMatch(/^✓ Audit trail intact: 7 entries, head seq 21 /);
  });

  it('names an edited entry (hash mismatch)', async () => {
    await tampered(
      [auditKeys.entry(5)],
      () => put({ ...original.get(5)!, actor: 'tok_someoneelse' }),
      async () => {
        const { code, out } = await verify();
        expect(code).toBe(1);
        expect(out).toBe(
          "✗ Audit trail broken at seq 5: hash does not match the entry's contents (the entry was altered) " +
            `(entry ${named(5)})\n`,
        );
      },
    );
  });

  it('names an entry edited with its hash recomputed (prevHash mismatch at the next one)', async () => {
    const fifth = original.get(5)!;
    const forged = chainNext(
      { seq: 4, hash: String(fifth.prevHash) },
      { ...(fifth as unknown as AuditEntry), actor: 'tok_someoneelse' },
    );
    await tampered(
      [auditKeys.entry(5)],
      () => put({ ...fifth, ...forged }),
      async () => {
        const { code, out } = await verify();
        expect(code).toBe(1);
        expect(out).toBe(
          `✗ Audit trail broken at seq 6: prevHash does not match the hash of entry 5 (entry ${named(6)})\n`,
        );
      },
    );
  });

  it('names a deleted entry (a gap)', async () => {
    await tampered(
      [auditKeys.entry(7)],
      () => documents().send(new DeleteCommand({ TableName: table, Key: auditKeys.entry(7) })),
      async () => {
        const { code, out } = await verify();
        expect(code).toBe(1);
        expect(out).toBe(
          '✗ Audit trail broken at seq 7: expected seq 7, found seq 8: a gap, 1 entry missing (7)\n',
        );
      },
    );
  });

  it('names reordered entries', async () => {
    const third = original.get(3)!;
    const fourth = original.get(4)!;
    await tampered(
      [auditKeys.entry(3), auditKeys.entry(4)],
      async () => {
        // Each slot now holds the other's entry: the listing reads 1, 2, 4, 3, 5, ...
        await put({ ...fourth, ...auditKeys.entry(3) });
        await put({ ...third, ...auditKeys.entry(4) });
      },
      async () => {
        const { code, out } = await verify();
        expect(code).toBe(1);
        expect(out).toBe(
          '✗ Audit trail broken at seq 3: expected seq 3, found seq 4 (seq 3 comes later): entries are out of order\n',
        );
      },
    );
  });

  it('names the newest entries deleted past a signed checkpoint, head rewound or not', async () => {
    const entries = (await allEntries(100)).entries;
    const checkpoint = await signCheckpoint(stack.adapters.signer, entries[20]!, new Date());
    const before = await stack.adapters.auditCheckpoints.getDocument(LATEST_CHECKPOINT_KEY);
    await stack.adapters.auditCheckpoints.putDocument(
      LATEST_CHECKPOINT_KEY,
      JSON.stringify(checkpoint),
      'application/json',
    );
    try {
      const removeNewest = () =>
        Promise.all(
          [20, 21].map((seq) =>
            documents().send(new DeleteCommand({ TableName: table, Key: auditKeys.entry(seq) })),
          ),
        );
      await tampered(
        [auditKeys.entry(20), auditKeys.entry(21), auditKeys.head],
        async () => {
          await removeNewest();
          await put({ ...auditKeys.head, seq: 19, hash: entries[18]!.hash });
        },
        async () => {
          const { code, out } = await verify();
          expect(code).toBe(1);
          expect(out).toBe(
            '✗ Audit trail broken at seq 20: the chain ends at seq 19 but checkpoint seq 21 was signed: entries were removed\n',
          );
        },
      );
      await tampered([auditKeys.entry(20), auditKeys.entry(21)], removeNewest, async () => {
        const { code, out } = await verify();
        expect(code).toBe(1);
        expect(out).toBe(
          '✗ Audit trail broken at seq 20: the chain ends at seq 19 but its head is at seq 21: entries were removed\n',
        );
      });
    } finally {
      if (before !== undefined)
        await stack.adapters.auditCheckpoints.putDocument(LATEST_CHECKPOINT_KEY, before, 'application/json');
    }
  });
});
