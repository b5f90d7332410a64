import { errorLine, exitCodeFor, UsageError } from '../../../cli/errors.ts';
import { createToken, listTokens, revokeToken, tokenRequestFor } from '../../../cli/token/token-actions.ts';
import { exportContext, type FakeApi, problem, sendJson, startFakeApi } from './export-fixtures.ts';
import { rejection } from './helpers.ts';

/** `kt token create | list | revoke` against a loopback stand-in for the API, called directly. */

const SECRET = `kt_${'A'.repeat(43)}`;
const VIEW = {
  id: 'tok_3f9a0c1d2e4b',
  name: 'reader',
  scopes: ['exports:read'],
  created: '2026-04-23T14:30:00.123Z',
  expires: '2026-07-22T14:30:00.123Z',
  status: 'active',
};

let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(() => api.close());
beforeEach(() => api.reset());

describe('kt token create', () => {
  it('sends the flags as the API body and prints the secret once, with a line to save it', async () => {
    api.route('POST /v1/tokens', (_req, res) => sendJson(res, 201, { token: SECRET, ...VIEW }));
    const { context, globals, io } = exportContext(api.url);
    await createToken(context, globals, { name: 'reader', scopes: 'exports:read', expires: '90d' });
    expect(JSON.parse(api.seen[0]!.body)).toEqual({
      name: 'reader',
      scopes: ['exports:read'],
      expiresIn: '90d',
    });
    expect(io.out()).toBe(
      [
        '✓ Token created',
        'Token ID: tok_3f9a0c1d2e4b',
        'Name: reader',
        'Scopes: exports:read',
        'Team: any (not restricted)',
        'Expires: 2026-07-22T14:30:00Z',
        '',
        'Save this token now: it is not shown again (the API keeps only its hash).',
        `Token: ${SECRET}`,
        '',
        'Use it with: export KEEPTRUSTS_API_TOKEN="<the token above>"',
        'Revoke it with: kt token revoke --id tok_3f9a0c1d2e4b',
        '',
      ].join('\n'),
    );
    // Any later error line masks it.
    expect(context.secrets.has(SECRET)).toBe(true);
    expect(errorLine(new Error(`boom ${SECRET}`), context.secrets)).toBe('error: boom ***');
  });

  it('prints the whole answer with -o json', async () => {
    api.route('POST /v1/tokens', (_req, res) =>
      sendJson(res, 201, { token: SECRET, ...VIEW, team: 'support' }),
    );
    const { context, globals, io } = exportContext(api.url, 'json');
    await createToken(context, globals, { name: 'reader', scopes: 'exports:read', team: 'support' });
    expect(JSON.parse(io.out())).toEqual({ token: SECRET, ...VIEW, team: 'support' });
  });

  it.each([
    [{ name: 'bad name', scopes: 'exports:read' }, /^--name must be 1 to 64 characters/],
    [{ name: 'x', scopes: 'exports:read,root' }, /^--scopes must each be one of exports:read, /],
    [{ name: 'x', scopes: ',' }, /^--scopes must name at least one scope/],
    [
      { name: 'x', scopes: 'admin', expires: '90' },
      /^--expires must be a whole number of hours, days or weeks/,
    ],
    [{ name: 'x', scopes: 'admin', team: '' }, /^--team must not be empty/],
  ])('refuses %j before sending anything (exit 2)', async (flags, message) => {
    const error = await rejection(Promise.resolve().then(() => tokenRequestFor(flags)));
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toMatch(message);
    expect(api.seen).toHaveLength(0);
  });

  it('names the missing scope of a 403 and exits 4', async () => {
    api.route('POST /v1/tokens', (_req, res) =>
      problem(res, 403, {
        title: 'Forbidden',
        detail: 'This action needs a token with the admin scope (or admin).',
      }),
    );
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createToken(context, globals, { name: 'x', scopes: 'exports:read' }));
    expect(exitCodeFor(error)).toBe(4);
    expect(error.message).toContain('needs a token with the admin scope');
  });
});

describe('kt token list and revoke', () => {
  it('follows every page and prints a table without secrets', async () => {
    api.route('GET /v1/tokens', (req, res) =>
      req.url?.includes('cursor=next')
        ? sendJson(res, 200, {
            tokens: [
              { ...VIEW, id: 'tok_000000000001', name: 'admin', scopes: ['admin'], expires: undefined },
            ],
          })
        : sendJson(res, 200, { tokens: [{ ...VIEW, team: 'support' }], cursor: 'next' }),
    );
    const { context, globals, io } = exportContext(api.url);
    await listTokens(context, globals);
    expect(io.out()).toBe(
      [
        'ID                NAME    SCOPES        TEAM     CREATED               EXPIRES               STATUS',
        'tok_3f9a0c1d2e4b  reader  exports:read  support  2026-04-23T14:30:00Z  2026-07-22T14:30:00Z  active',
        'tok_000000000001  admin   admin         -        2026-04-23T14:30:00Z  never                 active',
        '',
      ].join('\n'),
    );
  });

  it('revokes by id, and refuses an id that is not one before sending', async () => {
    api.route('DELETE /v1/tokens/tok_3f9a0c1d2e4b', (_req, res) =>
      sendJson(res, 200, { ...VIEW, status: 'revoked', revoked: '2026-04-24T00:00:00.000Z' }),
    );
    const { context, globals, io } = exportContext(api.url);
    await revokeToken(context, globals, { id: 'tok_3f9a0c1d2e4b' });
    expect(io.out()).toContain('✓ Token tok_3f9a0c1d2e4b revoked; requests with it are refused from now on');
    expect(io.out()).toContain('Revoked: 2026-04-24T00:00:00Z');
    const error = await rejection(revokeToken(context, globals, { id: 'reader' }));
    expect(exitCodeFor(error)).toBe(2);
    expect(api.seen).toHaveLength(1);
  });
});
