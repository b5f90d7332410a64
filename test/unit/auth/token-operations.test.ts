import type { AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import { createToken, listTokens, revokeToken } from '../../../functions/core/auth/token-operations.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { parseTokenRequest, expiresInMs } from '../../../functions/core/auth/token-request.ts';
import { authenticate, generateToken, hashToken, tokenIdOf } from '../../../functions/core/auth/tokens.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../functions/core/errors.ts';
import type { AuditLog } from '../../../functions/core/ports.ts';
import { MemoryTokenStore } from '../../support/memory-token-store.ts';

const NOW = new Date('2026-04-20T09:00:00.000Z');
const admin: Principal = { tokenId: 'tok_000000000001', name: 'admin', scopes: ['admin'] };
const supportAdmin: Principal = {
  tokenId: 'tok_000000000002',
  name: 'sa',
  scopes: ['admin'],
  team: 'support',
};

function world() {
  const tokens = new MemoryTokenStore();
  const appended: AuditRecord[] = [];
  const audit = {
    append: async (record: AuditRecord) => {
      appended.push(record);
      return { ...record, seq: appended.length, prevHash: '', hash: '' };
    },
  } as unknown as AuditLog;
  let now = NOW;
  const deps = { tokens, audit, now: () => now, newSecret: generateToken };
  return { deps, tokens, appended, setNow: (at: Date) => (now = at) };
}

describe('the token request', () => {
  it('takes a name, scopes, a team and an expiry', () => {
    expect(
      parseTokenRequest({ name: 'ci.reader-1', scopes: ['exports:read'], team: 'support', expiresIn: '90d' }),
    ).toEqual({ name: 'ci.reader-1', scopes: ['exports:read'], team: 'support', expiresIn: '90d' });
    expect(expiresInMs('12h')).toBe(12 * 3_600_000);
    expect(expiresInMs('4w')).toBe(28 * 86_400_000);
    expect(expiresInMs('3651d')).toBeUndefined();
    expect(expiresInMs('0d')).toBeUndefined();
  });

  it.each([
    [{ name: 'a b', scopes: ['admin'] }, 'name'],
    [{ name: 'x'.repeat(65), scopes: ['admin'] }, 'name'],
    [{ name: 'x', scopes: [] }, 'scopes'],
    [{ name: 'x', scopes: ['exports:delete'] }, 'scopes[0]'],
    [{ name: 'x', scopes: ['admin', 'admin'] }, 'scopes'],
    [{ name: 'x', scopes: ['admin'], expiresIn: '90 days' }, 'expiresIn'],
    [{ name: 'x', scopes: ['admin'], team: '' }, 'team'],
    [{ name: 'x', scopes: ['admin'], secret: 'kt_x' }, 'secret'],
    [{ scopes: ['admin'] }, 'name'],
    [[], '(body)'],
  ])('refuses %j, naming %s', (body, field) => {
    const error = (() => {
      try {
        parseTokenRequest(body);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toContain(field);
  });
});

describe('token operations', () => {
  it('creates a token whose secret authenticates, shows it once and audits the id only', async () => {
    const { deps, tokens, appended } = world();
    const created = await createToken(
      deps,
      { name: 'reader', scopes: ['exports:read'], expiresIn: '90d' },
      admin,
    );
    expect(created).toEqual({
      token: expect.stringMatching(/^kt_[A-Za-z0-9_-]{43}$/),
      id: tokenIdOf(hashToken(created.token)),
      name: 'reader',
      scopes: ['exports:read'],
      created: NOW.toISOString(),
      expires: '2026-07-19T09:00:00.000Z',
      status: 'active',
    });
    expect(await authenticate(created.token, tokens, NOW)).toMatchObject({ tokenId: created.id });
    expect(appended).toEqual([
      expect.objectContaining({ action: 'token.created', subject: created.id, actor: admin.tokenId }),
    ]);
    expect(JSON.stringify(appended)).not.toContain(created.token);
    const listed = await listTokens(deps, {}, admin);
    expect(JSON.stringify(listed)).not.toContain(created.token);
    expect(JSON.stringify(listed)).not.toContain(hashToken(created.token));
    expect(listed.tokens.map((t) => t.id)).toEqual([created.id]);
  });

  it('revokes once, idempotently, and the token is refused from the next lookup', async () => {
    const { deps, tokens, appended } = world();
    const created = await createToken(deps, { name: 'bot', scopes: ['events:write'] }, admin);
    const revoked = await revokeToken(deps, created.id, admin);
    expect(revoked).toMatchObject({ id: created.id, status: 'revoked', revoked: NOW.toISOString() });
    expect(await revokeToken(deps, created.id, admin)).toEqual(revoked);
    expect(appended.map((r) => r.action)).toEqual(['token.created', 'token.revoked']);
    await expect(authenticate(created.token, tokens, NOW)).rejects.toThrow(/revoked/);
    await expect(revokeToken(deps, 'tok_ffffffffffff', admin)).rejects.toBeInstanceOf(NotFoundError);
    await expect(revokeToken(deps, 'not-an-id', admin)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists an expired token as expired', async () => {
    const { deps, setNow } = world();
    const created = await createToken(
      deps,
      { name: 'short', scopes: ['audit:read'], expiresIn: '1h' },
      admin,
    );
    setNow(new Date(NOW.getTime() + 3_600_000));
    expect((await listTokens(deps, {}, admin)).tokens).toEqual([
      expect.objectContaining({ id: created.id, status: 'expired' }),
    ]);
  });

  it('needs the admin scope for every operation, naming it', async () => {
    const { deps } = world();
    const writer: Principal = {
      tokenId: 'tok_000000000003',
      name: 'w',
      scopes: ['exports:write', 'schedules:write'],
    };
    const message = 'This action needs a token with the admin scope (or admin).';
    await expect(createToken(deps, { name: 'x', scopes: ['admin'] }, writer)).rejects.toThrow(message);
    await expect(listTokens(deps, {}, writer)).rejects.toThrow(message);
    await expect(revokeToken(deps, 'tok_ffffffffffff', writer)).rejects.toThrow(message);
  });

  it("keeps a team's admin to its own team's tokens", async () => {
    const { deps, tokens } = world();
    await expect(
      createToken(deps, { name: 'wide', scopes: ['exports:read'] }, supportAdmin),
    ).rejects.toBeInstanceOf(ForbiddenError);
    await expect(
      createToken(deps, { name: 'other', scopes: ['exports:read'], team: 'engineering' }, supportAdmin),
    ).rejects.toBeInstanceOf(ForbiddenError);
    expect(tokens.records.size).toBe(0);
    const mine = await createToken(
      deps,
      { name: 'mine', scopes: ['exports:read'], team: 'support' },
      supportAdmin,
    );
    const theirs = await createToken(
      deps,
      { name: 'theirs', scopes: ['exports:read'], team: 'engineering' },
      admin,
    );
    expect((await listTokens(deps, {}, supportAdmin)).tokens.map((t) => t.id)).toEqual([mine.id]);
    await expect(revokeToken(deps, theirs.id, supportAdmin)).rejects.toBeInstanceOf(NotFoundError);
  });
});
