import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * `kt --auth sigv4` with the real binary against `npm start`: the credential pair the first start
 * prints works as pasted, a wrong secret is refused with one line (exit 4), and a later start
 * prints lines that read the secret from its file instead of showing it.
 */
describe('kt --auth sigv4', () => {
  let root: string;
  let stack: StartedStack;
  let env: NodeJS.ProcessEnv;
  let aws: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; AWS_REGION: string };

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-e2e-sigv4-'));
    env = { KT_DATA_DIR: path.join(root, 'data') };
    stack = await startFreshStack(root, env);
    aws = printedAwsLines(stack.output());
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** kt as a shell that pasted the printed lines runs it: no API token, no AWS profile. */
  const kt = (args: readonly string[], extra: NodeJS.ProcessEnv = {}) =>
    runKt(args, {
      KEEPTRUSTS_API_URL: stack.apiUrl,
      KEEPTRUSTS_API_TOKEN: '',
      KEEPTRUSTS_AUTH: '',
      AWS_PROFILE: '',
      AWS_SESSION_TOKEN: '',
      AWS_DEFAULT_REGION: '',
      ...aws,
      ...extra,
    });

  it('prints the pair beside the admin token, once', () => {
    expect(aws.AWS_ACCESS_KEY_ID).toMatch(/^KTLOCAL[A-Z2-7]{13}$/);
    expect(aws.AWS_SECRET_ACCESS_KEY).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(aws.AWS_REGION).toBe('us-east-1');
    expect(stack.output().split(aws.AWS_SECRET_ACCESS_KEY)).toHaveLength(2);
  });

  it('lists exports with the printed credentials and no token', async () => {
    const result = await kt(['export', 'list', '--auth', 'sigv4']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No exports yet');
  });

  it('creates an export with KEEPTRUSTS_AUTH=sigv4, recorded as the IAM caller', async () => {
    const created = await kt(
      ['export', 'create', '--from', '2026-04-16T00:00:00Z', '--to', '2026-04-23T23:59:59Z', '--format', 'json', '-o', 'json'],
      { KEEPTRUSTS_AUTH: 'sigv4' },
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const audit = await runKt(['audit', 'list', '-o', 'json'], {
      KEEPTRUSTS_API_URL: stack.apiUrl,
      KEEPTRUSTS_API_TOKEN: stack.token,
    });
    expect(audit.code).toBe(0);
    const entries = (JSON.parse(audit.stdout) as { entries: { action: string; subject: string; actor: string }[] })
      .entries;
    expect(entries.find((entry) => entry.action === 'export.created' && entry.subject === id)?.actor).toBe(
      'iam:arn:aws:iam::000000000000:user/keeptrusts-local',
    );
  });

  it('is refused with a wrong secret: one line, exit 4, the secret never shown', async () => {
    // The AWS documentation's example secret: right shape, wrong key.
    const wrong = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const result = await kt(['export', 'list', '--auth', 'sigv4'], { AWS_SECRET_ACCESS_KEY: wrong });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: the API refused the SigV4-signed request \(403\): Signature mismatch/);
    expect(result.stderr).not.toContain(wrong);
  });

  it('says which credentials are missing, in one line, exit 4', async () => {
    const result = await kt(['export', 'list', '--auth', 'sigv4'], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SHARED_CREDENTIALS_FILE: path.join(root, 'none'),
      AWS_CONFIG_FILE: path.join(root, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
    });
    expect(result.code).toBe(4);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: --auth sigv4 found no AWS credentials .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
  });

  it('keeps the pair across a restart, printing where the secret is kept instead of the secret', async () => {
    expect(await stack.stop()).toBe(0);
    stack = await startFreshStack(root, { ...env, KT_LOG_REQUESTS: '1' });
    const out = stack.output();
    expect(out).not.toContain(aws.AWS_SECRET_ACCESS_KEY);
    const file = path.join(env.KT_DATA_DIR as string, 'aws-credentials');
    expect(out).toContain(`export AWS_ACCESS_KEY_ID="${aws.AWS_ACCESS_KEY_ID}"`);
    const secretLine = out.match(/^export AWS_SECRET_ACCESS_KEY="(\$\(.*\))"$/m)?.[1];
    expect(secretLine).toBe(`$(sed -n 's/^aws_secret_access_key = //p' ${file})`);
    // The line works as a shell runs it.
    const secret = execFileSync('sh', ['-c', `printf %s "${secretLine}"`], { encoding: 'utf8' });
    expect(secret).toBe(aws.AWS_SECRET_ACCESS_KEY);
    const result = await kt(['export', 'list', '--auth', 'sigv4', '-o', 'json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { exports: unknown[] }).exports).toHaveLength(1);
    // The request log names the requests, never a signature.
    expect(stack.output()).toMatch(/GET \/v1\/exports\?limit=\d+ 200/);
    expect(stack.output()).not.toContain('Signature=');
  });
});

/** The AWS lines the first start prints, as a shell would have them after pasting. */
function printedAwsLines(output: string): { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; AWS_REGION: string } {
  const value = (name: string) => output.match(new RegExp(`^export ${name}="([^"$]+)"$`, 'm'))?.[1] ?? '';
  expect(output).toMatch(/^unset AWS_PROFILE AWS_SESSION_TOKEN$/m);
  return {
    AWS_ACCESS_KEY_ID: value('AWS_ACCESS_KEY_ID'),
    AWS_SECRET_ACCESS_KEY: value('AWS_SECRET_ACCESS_KEY'),
    AWS_REGION: value('AWS_REGION'),
  };
}
