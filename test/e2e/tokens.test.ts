import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * A new user's token management with the real `kt` binary against `npm start`: an admin makes a
 * read-only token, the token is refused a write with one line naming the missing scope (exit 4),
 * and once revoked it is refused on its next request. No token secret appears in the stack's
 * output after the one start that created the admin token.
 */
describe('kt token', () => {
  let root: string;
  let stack: StartedStack;
  let admin: NodeJS.ProcessEnv;
  const secrets: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-e2e-tokens-'));
    stack = await startFreshStack(root, { KT_LOG_REQUESTS: '1' });
    admin = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token, KT_DEBUG: '' };
    secrets.push(stack.token);
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const as = (token: string): NodeJS.ProcessEnv => ({ ...admin, KEEPTRUSTS_API_TOKEN: token });
  let reader = '';
  let readerId = '';

  it('creates a read-only token and prints its secret once, with a line saying to save it', async () => {
    const result = await runKt(
      ['token', 'create', '--name', 'reader', '--scopes', 'exports:read', '--expires', '90d'],
      admin,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('✓ Token created');
    expect(result.stdout).toMatch(/^Token ID: tok_[0-9a-f]{12}$/m);
    expect(result.stdout).toMatch(/^Scopes: exports:read$/m);
    expect(result.stdout).toMatch(/^Team: any \(not restricted\)$/m);
    expect(result.stdout).toMatch(/^Expires: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/m);
    expect(result.stdout).toContain('Save this token now: it is not shown again');
    reader = result.stdout.match(/^Token: (kt_[A-Za-z0-9_-]{43})$/m)?.[1] ?? '';
    readerId = result.stdout.match(/^Token ID: (tok_[0-9a-f]{12})$/m)?.[1] ?? '';
    expect(reader).not.toBe('');
    // Printed once: the secret is on one line of the output and nowhere else.
    expect(result.stdout.split(reader)).toHaveLength(2);
    secrets.push(reader);
  });

  it('gives a script the secret with -o json', async () => {
    const result = await runKt(
      ['token', 'create', '--name', 'ci', '--scopes', 'events:write', '--team', 'support', '-o', 'json'],
      admin,
    );
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as {
      token: string;
      id: string;
      scopes: string[];
      team: string;
    };
    expect(created).toMatchObject({ scopes: ['events:write'], team: 'support' });
    expect(created.token).toMatch(/^kt_/);
    secrets.push(created.token);
  });

  it('refuses a forbidden action with one line naming the missing scope, exit code 4', async () => {
    const result = await runKt(
      [
        'export',
        'create',
        '--from',
        '2026-04-16T00:00:00Z',
        '--to',
        '2026-04-23T23:59:59Z',
        '--format',
        'json',
      ],
      as(reader),
    );
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: .*exports:write scope/);
    expect((await runKt(['export', 'list'], as(reader))).code).toBe(0);
  });

  it('lists tokens in a table without any secret', async () => {
    const result = await runKt(['token', 'list'], admin);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/^ID +NAME +SCOPES +TEAM +CREATED +EXPIRES +STATUS$/);
    expect(result.stdout).toMatch(new RegExp(`^${readerId} +reader +exports:read +- .* active$`, 'm'));
    for (const secret of secrets) expect(result.stdout).not.toContain(secret);
    const json = await runKt(['token', 'list', '-o', 'json'], admin);
    for (const secret of secrets) expect(json.stdout).not.toContain(secret);
  });

  it('checks flags before sending: a usage error exits 2', async () => {
    for (const args of [
      ['token', 'create', '--name', 'bad name', '--scopes', 'exports:read'],
      ['token', 'create', '--name', 'x', '--scopes', 'exports:delete'],
      ['token', 'create', '--name', 'x', '--scopes', 'exports:read', '--expires', '90'],
      ['token', 'revoke', '--id', 'reader'],
    ]) {
      const result = await runKt(args, admin);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('revokes the token: its next request is refused (401, exit 4)', async () => {
    const revoked = await runKt(['token', 'revoke', '--id', readerId], admin);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`✓ Token ${readerId} revoked`);
    const refused = await runKt(['export', 'list'], as(reader));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: the API refused the token \(401\)/);
  });

  it('prints no token secret after the start that created the admin token, and says where it is kept', async () => {
    const first = stack.output();
    // The one intended appearance: the admin token, on the start that created it.
    expect(first).toContain(`export KEEPTRUSTS_API_TOKEN="${stack.token}"`);
    for (const secret of secrets.slice(1)) expect(first).not.toContain(secret);
    expect(await stack.stop()).toBe(0);

    stack = await startFreshStack(root, { KT_LOG_REQUESTS: '1' });
    const tokenFile = path.join(root, 'data', 'admin-token');
    expect(stack.output()).toContain(`export KEEPTRUSTS_API_TOKEN="$(cat ${tokenFile})"`);
    expect(stack.token).toBe(secrets[0]);
    // A session of requests, with the request log on: tokens made, used, refused and revoked.
    const env = { ...admin, KEEPTRUSTS_API_URL: stack.apiUrl };
    const made = JSON.parse(
      (await runKt(['token', 'create', '--name', 'later', '--scopes', 'admin', '-o', 'json'], env)).stdout,
    ) as { token: string; id: string };
    secrets.push(made.token);
    expect((await runKt(['token', 'list'], { ...env, KEEPTRUSTS_API_TOKEN: made.token })).code).toBe(0);
    expect((await runKt(['token', 'revoke', '--id', made.id], env)).code).toBe(0);
    expect((await runKt(['token', 'list'], { ...env, KEEPTRUSTS_API_TOKEN: made.token })).code).toBe(4);
    expect((await runKt(['export', 'list'], { ...env, KEEPTRUSTS_API_TOKEN: reader })).code).toBe(4);
    expect(await stack.stop()).toBe(0);
    const second = stack.output();
    expect(second).toMatch(/GET \/v1\/tokens/);
    for (const secret of secrets) expect(second).not.toContain(secret);
  });
});
