import { SignatureV4 } from '@smithy/signature-v4';
import { AuthError, oneLine, UsageError } from '../errors.ts';
import { EXECUTE_API, Sha256 } from '../../functions/core/auth/sigv4-hash.ts';
import type { RequestSigner, SignableRequest } from './signing.ts';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export type CredentialsProvider = () => Promise<AwsCredentials>;

/** Resolved when the first request is signed (reading a profile's region is file I/O). */
export type RegionProvider = () => Promise<string>;

export interface SigV4SignerProps {
  readonly credentials: CredentialsProvider;
  readonly region: string | RegionProvider;
  /** @default EXECUTE_API */
  readonly service?: string;
  /** The signing time of each request. @default the clock */
  readonly now?: () => Date;
}

/**
 * `--auth sigv4`: signs each request with AWS Signature Version 4 for an API whose routes are
 * authorised with AWS_IAM. The client calls sign() once per attempt, so a retry carries a fresh
 * date (AWS refuses a signature more than 5 minutes old). What is signed is exactly what is sent:
 * the method, the URL's path and query as fetch serialises them, the headers kt sets, and the
 * SHA-256 of the body's UTF-8 bytes (also sent as x-amz-content-sha256).
 */
export class SigV4Signer implements RequestSigner {
  readonly auth = 'sigv4';
  readonly #credentials: CredentialsProvider;
  readonly #region: RegionProvider;
  /** The region when it was given, for toJSON (a provider's is not known until the first request). */
  readonly #regionLabel: string | undefined;
  readonly #service: string;
  readonly #now: () => Date;

  constructor(props: SigV4SignerProps) {
    this.#credentials = props.credentials;
    const region = props.region;
    this.#region = typeof region === 'string' ? async () => region : region;
    this.#regionLabel = typeof region === 'string' ? region : undefined;
    this.#service = props.service ?? EXECUTE_API;
    this.#now = props.now ?? (() => new Date());
  }

  async sign(request: SignableRequest): Promise<Record<string, string>> {
    const region = await this.#region();
    const credentials = await this.#resolveCredentials();
    const signer = new SignatureV4({
      credentials,
      region,
      service: this.#service,
      sha256: Sha256,
    });
    const { url } = request;
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        // Still percent-encoded, as sent; the signer encodes each segment once more, as SigV4 says.
        path: url.pathname,
        query: queryOf(url),
        // fetch sends Host from the URL (no port when it is the scheme's default), so sign that.
        headers: { ...request.headers, host: url.host },
        body: request.body,
      },
      { signingDate: this.#now() },
    );
    // fetch sets Host itself and refuses to be told.
    const { host: _host, ...headers } = signed.headers;
    return headers;
  }

  async #resolveCredentials(): Promise<AwsCredentials> {
    let credentials: AwsCredentials;
    try {
      credentials = await this.#credentials();
    } catch (error) {
      throw new AuthError(
        `--auth sigv4 found no AWS credentials (${oneLine((error as Error)?.message ?? String(error))}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`,
        undefined,
        { cause: error },
      );
    }
    if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
      throw new AuthError(
        '--auth sigv4 found no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE',
      );
    }
    return credentials;
  }

  toJSON(): string {
    return `SigV4Signer(${[this.#service, this.#regionLabel].filter(Boolean).join(', ')})`;
  }
}

/** The query as the URL carries it, repeated names kept, for the signer's canonical query. */
function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

/** `<api-id>.execute-api.<region>.amazonaws.com` (and the China partition's `.com.cn`). */
const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/i;

/**
 * The region to sign for: the one in an execute-api host name (it is where the API is, whatever
 * the shell says), else the configured one (AWS_REGION, else AWS_DEFAULT_REGION), else the
 * `region` of the AWS profile in use (AWS_PROFILE, in AWS_CONFIG_FILE or ~/.aws/config), as the
 * AWS CLI finds it.
 */
export function signingRegionFor(
  apiUrl: string,
  configured: string | undefined,
  fromProfile?: string,
): string {
  const region = new URL(apiUrl).hostname.match(EXECUTE_API_HOST)?.[1] ?? configured ?? fromProfile;
  if (region === undefined) {
    throw new UsageError(
      "--auth sigv4 needs the API's AWS region: set AWS_REGION, or region in your AWS profile (npm start prints the local stack's)",
    );
  }
  return region.toLowerCase();
}

/**
 * signingRegionFor as the signer asks for it: the profile is read only when neither the host name
 * nor the environment names a region, and only once.
 */
export function signingRegion(
  apiUrl: string,
  configured: string | undefined,
  readProfileRegion: () => Promise<string | undefined> = profileRegion,
): RegionProvider {
  let resolved: Promise<string> | undefined;
  return () => {
    resolved ??= (async () => {
      if (new URL(apiUrl).hostname.match(EXECUTE_API_HOST) || configured !== undefined) {
        return signingRegionFor(apiUrl, configured);
      }
      return signingRegionFor(apiUrl, undefined, await readProfileRegion());
    })();
    return resolved;
  };
}

/** The `region` of the AWS profile in use, read by the SDK's own shared-config loader. */
async function profileRegion(): Promise<string | undefined> {
  const { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS } = await import('@smithy/core/config');
  const read = loadConfig<string | undefined>(
    {
      // The environment was looked at already (AWS_REGION, AWS_DEFAULT_REGION).
      environmentVariableSelector: () => undefined,
      configFileSelector: (profile) => profile.region,
      default: () => undefined,
    },
    NODE_REGION_CONFIG_FILE_OPTIONS,
  );
  return read().catch(() => undefined);
}

/**
 * The standard AWS credential chain (environment, shared config and credentials files, SSO,
 * process, web identity, container and instance metadata), loaded only when sigv4 is asked for
 * so a Bearer-token run never pays for it. It caches and refreshes credentials itself.
 */
export function standardCredentialChain(): CredentialsProvider {
  let provider: Promise<CredentialsProvider> | undefined;
  return async () => {
    provider ??= import('@aws-sdk/credential-providers').then(({ fromNodeProviderChain }) =>
      fromNodeProviderChain(),
    );
    return (await provider)();
  };
}
