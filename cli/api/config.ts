import { oneLine, UsageError } from '../errors.ts';

export const DEFAULT_API_URL = 'http://localhost:8080';

export type AuthMode = 'bearer' | 'sigv4';
export const AUTH_MODES: readonly AuthMode[] = ['bearer', 'sigv4'];

/** Where and how to call the API, from flags over environment over defaults. */
export interface ApiConfig {
  readonly apiUrl: string;
  readonly token: string | undefined;
  readonly auth: AuthMode;
  /** AWS_REGION, else AWS_DEFAULT_REGION: what `--auth sigv4` signs for when the URL does not say. */
  readonly awsRegion?: string;
}

export interface ApiFlags {
  readonly apiUrl?: string | undefined;
  readonly token?: string | undefined;
  readonly auth?: string | undefined;
}

/** `--api-url` / `--token` / `--auth` override KEEPTRUSTS_API_URL / KEEPTRUSTS_API_TOKEN / KEEPTRUSTS_AUTH. */
export function resolveApiConfig(
  flags: ApiFlags,
  env: Readonly<Record<string, string | undefined>>,
): ApiConfig {
  const apiUrl = nonEmpty(flags.apiUrl) ?? nonEmpty(env.KEEPTRUSTS_API_URL) ?? DEFAULT_API_URL;
  const source = nonEmpty(flags.apiUrl) ? '--api-url' : 'KEEPTRUSTS_API_URL';
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UsageError(
      `${source} must be an http(s) URL such as ${DEFAULT_API_URL} (got "${oneLine(apiUrl)}")`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `${source} must be an http(s) URL such as ${DEFAULT_API_URL} (got "${oneLine(apiUrl)}")`,
    );
  }
  if (url.username || url.password) {
    throw new UsageError(`${source} must not contain credentials; use KEEPTRUSTS_API_TOKEN`);
  }
  const auth = (nonEmpty(flags.auth) ?? nonEmpty(env.KEEPTRUSTS_AUTH) ?? 'bearer').toLowerCase();
  if (!(AUTH_MODES as readonly string[]).includes(auth)) {
    const source = nonEmpty(flags.auth) ? '--auth' : 'KEEPTRUSTS_AUTH';
    throw new UsageError(`${source} must be one of ${AUTH_MODES.join(', ')} (got "${oneLine(auth)}")`);
  }
  const awsRegion = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  return {
    apiUrl: url.href.replace(/\/+$/, ''),
    token: nonEmpty(flags.token) ?? nonEmpty(env.KEEPTRUSTS_API_TOKEN),
    auth: auth as AuthMode,
    ...(awsRegion === undefined ? {} : { awsRegion }),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
