import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiClient, type FetchLike } from '../../../../cli/api/client.ts';
import { resolveApiConfig } from '../../../../cli/api/config.ts';
import { errorForResponse } from '../../../../cli/api/problems.ts';
import { createSigner } from '../../../../cli/api/signing.ts';
import { SigV4Signer, signingRegion, signingRegionFor } from '../../../../cli/api/sigv4-signer.ts';
import { AuthError, errorLine, exitCodeFor, UsageError } from '../../../../cli/errors.ts';
import { rejection } from '../helpers.ts';

const CREDENTIALS = { accessKeyId: 'KTLOCALABCDEFGHIJKLM', secretAccessKey: 'a'.repeat(40) };
const AT = new Date('2026-04-20T09:15:32.481Z');

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * SigV4 written out from the AWS specification, independently of @smithy/signature-v4: what the
 * CLI's signature must equal for the bytes it sends.
 */
function expectedSignature(props: {
  method: string;
  path: string;
  canonicalQuery: string;
  headers: Record<string, string>;
  body: string;
  secret: string;
  region: string;
}): string {
  const names = Object.keys(props.headers).sort();
  const canonical = [
    props.method,
    props.path,
    props.canonicalQuery,
    ...names.map((name) => `${name}:${props.headers[name]}`),
    '',
    names.join(';'),
    sha256(Buffer.from(props.body, 'utf8')),
  ].join('\n');
  const scope = `20260420/${props.region}/execute-api/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', '20260420T091532Z', scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${props.secret}`, '20260420');
  for (const part of [props.region, 'execute-api', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('SigV4Signer', () => {
  const signer = (now = () => AT) =>
    new SigV4Signer({ credentials: async () => CREDENTIALS, region: 'us-east-1', now });

  it('signs the method, path, query, its headers and the SHA-256 of the body exactly as sent', async () => {
    // Non-ASCII text: the hash must be over the UTF-8 bytes fetch sends, not the UTF-16 string.
    const body = JSON.stringify({ from: '2026-04-16T00:00:00Z', filters: { team: 'équipe ü' } });
    const url = new URL('http://localhost:8080/v1/exports?limit=5&cursor=a%2Fb+c');
    const headers = await signer().sign({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1', 'user-agent': 'kt/test' },
      body,
    });

    expect(headers['x-amz-date']).toBe('20260420T091532Z');
    expect(headers['x-amz-content-sha256']).toBe(sha256(Buffer.from(body, 'utf8')));
    expect(headers).not.toHaveProperty('host');
    const match = headers.authorization?.match(
      /^AWS4-HMAC-SHA256 Credential=KTLOCALABCDEFGHIJKLM\/20260420\/us-east-1\/execute-api\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/,
    );
    expect(match).not.toBeNull();
    // user-agent is never signed (proxies rewrite it); everything else kt sets is.
    expect(match?.[1]).toBe('content-type;host;idempotency-key;x-amz-content-sha256;x-amz-date');
    expect(match?.[2]).toBe(
      expectedSignature({
        method: 'POST',
        path: '/v1/exports',
        // Sorted by name, each value percent-encoded once (the space fetch sends as "+" included).
        canonicalQuery: 'cursor=a%2Fb%20c&limit=5',
        headers: {
          'content-type': 'application/json',
          host: 'localhost:8080',
          'idempotency-key': 'k-1',
          'x-amz-content-sha256': sha256(Buffer.from(body, 'utf8')),
          'x-amz-date': '20260420T091532Z',
        },
        body,
        secret: CREDENTIALS.secretAccessKey,
        region: 'us-east-1',
      }),
    );
  });

  it('signs an empty body as the hash of no bytes, and a host on the default port without it', async () => {
    const headers = await signer().sign({
      method: 'GET',
      url: new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/v1/exports'),
      headers: {},
      body: undefined,
    });
    const emptyHash = sha256('');
    expect(headers['x-amz-content-sha256']).toBe(emptyHash);
    expect(headers.authorization).toContain(
      `Signature=${expectedSignature({
        method: 'GET',
        path: '/v1/exports',
        canonicalQuery: '',
        headers: {
          host: 'abc123.execute-api.eu-west-1.amazonaws.com',
          'x-amz-content-sha256': emptyHash,
          'x-amz-date': '20260420T091532Z',
        },
        body: '',
        secret: CREDENTIALS.secretAccessKey,
        region: 'us-east-1',
      })}`,
    );
  });

  it('sends the session token of temporary credentials, signed', async () => {
    const temporary = new SigV4Signer({
      credentials: async () => ({ ...CREDENTIALS, sessionToken: 'session-token' }),
      region: 'us-east-1',
      now: () => AT,
    });
    const headers = await temporary.sign({
      method: 'GET',
      url: new URL('http://localhost:8080/v1/keys'),
      headers: {},
      body: undefined,
    });
    expect(headers['x-amz-security-token']).toBe('session-token');
    expect(headers.authorization).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,',
    );
  });

  it('signs every attempt afresh, so a retry carries a new date', async () => {
    let clock = AT.getTime();
    const sent: Record<string, string>[] = [];
    const fetch: FetchLike = async (_url, init) => {
      sent.push(init.headers as Record<string, string>);
      return sent.length === 1
        ? new Response('{}', { status: 503, headers: { 'content-type': 'application/json' } })
        : new Response('{"exports":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const client = new ApiClient({
      baseUrl: 'http://localhost:8080',
      signer: signer(() => {
        clock += 7_000;
        return new Date(clock);
      }),
      fetch,
      sleep: async () => undefined,
    });
    await client.get('/v1/exports', { query: { limit: 5 } });
    expect(sent).toHaveLength(2);
    expect(sent[0]?.['x-amz-date']).toBe('20260420T091539Z');
    expect(sent[1]?.['x-amz-date']).toBe('20260420T091546Z');
    expect(sent[0]?.authorization).not.toBe(sent[1]?.authorization);
  });

  it('turns missing credentials into one AuthError line (exit 4) before anything is sent', async () => {
    const none = new SigV4Signer({
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
      region: 'us-east-1',
    });
    let sent = 0;
    const client = new ApiClient({
      baseUrl: 'http://localhost:8080',
      signer: none,
      fetch: async () => {
        sent += 1;
        return new Response('{}');
      },
      sleep: async () => undefined,
    });
    const error = await rejection(client.get('/v1/exports'));
    expect(error).toBeInstanceOf(AuthError);
    expect(exitCodeFor(error)).toBe(4);
    expect(errorLine(error)).toBe(
      'error: --auth sigv4 found no AWS credentials (Could not load credentials from any providers); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE',
    );
    expect(sent).toBe(0);
  });

  it('never renders its credentials', () => {
    expect(JSON.stringify(signer())).toBe('"SigV4Signer(execute-api, us-east-1)"');
  });
});

describe('signingRegionFor', () => {
  it('takes the region of an execute-api host name over the configured one', () => {
    expect(signingRegionFor('https://a1b2c3.execute-api.eu-central-1.amazonaws.com', 'us-east-1')).toBe(
      'eu-central-1',
    );
    expect(signingRegionFor('https://a1b2c3.execute-api.cn-north-1.amazonaws.com.cn/v1', undefined)).toBe(
      'cn-north-1',
    );
    expect(signingRegionFor('http://localhost:8080', 'us-east-1')).toBe('us-east-1');
    expect(signingRegionFor('https://api.example.com', 'EU-WEST-1')).toBe('eu-west-1');
  });

  it("falls back to the AWS profile's region, and asks for one when none says", () => {
    expect(signingRegionFor('http://localhost:8080', undefined, 'ap-south-1')).toBe('ap-south-1');
    expect(signingRegionFor('http://localhost:8080', 'us-east-1', 'ap-south-1')).toBe('us-east-1');
    expect(() => signingRegionFor('http://localhost:8080', undefined)).toThrow(UsageError);
    expect(() => signingRegionFor('http://localhost:8080', undefined)).toThrow(
      /set AWS_REGION, or region in your AWS profile/,
    );
  });
});

describe('signingRegion', () => {
  it('reads the profile only when neither the host name nor the environment names a region, once', async () => {
    let reads = 0;
    const profile = async () => {
      reads += 1;
      return 'ap-south-1';
    };
    await expect(
      signingRegion('https://a1.execute-api.eu-west-1.amazonaws.com', undefined, profile)(),
    ).resolves.toBe('eu-west-1');
    await expect(signingRegion('http://localhost:8080', 'us-east-2', profile)()).resolves.toBe('us-east-2');
    expect(reads).toBe(0);
    const fromProfile = signingRegion('http://localhost:8080', undefined, profile);
    await expect(fromProfile()).resolves.toBe('ap-south-1');
    await expect(fromProfile()).resolves.toBe('ap-south-1');
    expect(reads).toBe(1);
    await expect(signingRegion('http://localhost:8080', undefined, async () => undefined)()).rejects.toThrow(
      UsageError,
    );
  });

  it("reads the region of AWS_PROFILE's section in AWS_CONFIG_FILE, as the AWS CLI does", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kt-aws-config-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, '[default]\nregion = us-east-1\n\n[profile audit-ci]\nregion = eu-north-1\n');
    const saved = { file: process.env.AWS_CONFIG_FILE, profile: process.env.AWS_PROFILE };
    try {
      process.env.AWS_CONFIG_FILE = file;
      process.env.AWS_PROFILE = 'audit-ci';
      await expect(signingRegion('http://localhost:8080', undefined)()).resolves.toBe('eu-north-1');
      process.env.AWS_PROFILE = 'no-such-profile';
      await expect(signingRegion('http://localhost:8080', undefined)()).rejects.toThrow(/set AWS_REGION/);
    } finally {
      for (const [name, value] of [
        ['AWS_CONFIG_FILE', saved.file],
        ['AWS_PROFILE', saved.profile],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createSigner in sigv4 mode', () => {
  it('needs no token, and reads the region from AWS_REGION or AWS_DEFAULT_REGION', async () => {
    const config = resolveApiConfig({ auth: 'sigv4' }, { AWS_DEFAULT_REGION: 'eu-west-2' });
    expect(config.awsRegion).toBe('eu-west-2');
    const signer = createSigner(config);
    expect(signer).toBeInstanceOf(SigV4Signer);
    expect(signer.auth).toBe('sigv4');
    await expect(signingRegion(config.apiUrl, config.awsRegion)()).resolves.toBe('eu-west-2');
    expect(resolveApiConfig({}, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'eu-west-2' }).awsRegion).toBe(
      'us-west-2',
    );
  });
});

describe('a refused SigV4 request', () => {
  it('names the AWS credentials to check, not the API token, reading problems and gateway messages', () => {
    const local = errorForResponse(403, { status: 403, detail: 'Signature mismatch: wrong.' }, 'sigv4');
    expect(local).toBeInstanceOf(AuthError);
    expect(local.message).toBe(
      'the API refused the SigV4-signed request (403): Signature mismatch: wrong. Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), the clock, and the IAM policy on execute-api:Invoke.',
    );
    // API Gateway's own IAM refusal is {"message": ...}, not problem+json.
    const gateway = errorForResponse(
      403,
      { message: 'User: arn:aws:iam::1:user/ci is not authorized to perform: execute-api:Invoke' },
      'sigv4',
    );
    expect(gateway.message).toContain(
      '(403): User: arn:aws:iam::1:user/ci is not authorized to perform: execute-api:Invoke.',
    );
    expect(errorForResponse(403, {}, 'bearer').message).toContain('KEEPTRUSTS_API_TOKEN');
  });
});
