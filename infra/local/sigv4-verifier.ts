import { createHash, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { EXECUTE_API, Sha256 } from '../../functions/core/auth/sigv4-hash.ts';
import type { IamCaller } from '../../functions/core/auth/iam-principal.ts';
import { ForbiddenError } from '../../functions/core/errors.ts';

/**
 * The local stand-in for an HTTP API route authorised with AWS_IAM: it checks a request's
 * AWS Signature Version 4 for real, against the secret of a known access key, before the API
 * handler sees the request. The signature is recomputed with @smithy/signature-v4 from what
 * arrived (the raw method, path, query, the headers the request says it signed, and the SHA-256
 * of the body bytes received), so a wrong secret, an edited body, query or path, or another
 * request's signature is refused, as is a time more than 5 minutes from the clock.
 */

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS refuses a signature whose date is further than this from its clock, either way. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** A refused signature: a 403 problem whose detail names the reason (functions/handlers/http/problem.ts). */
export class SignatureRefusedError extends ForbiddenError {}

export interface KnownAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Who a request signed with this key is (API Gateway's `requestContext.authorizer.iam`). */
  readonly caller: IamCaller;
}

/** A request as it arrived, before anything parsed it. */
export interface ArrivedRequest {
  readonly method: string;
  /** The request target: path and query exactly as sent (`/v1/exports?limit=5`). */
  readonly target: string;
  /** Lower-case names; repeated headers joined with commas, as Node joins them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

export interface SigV4VerifierProps {
  readonly keys: readonly KnownAccessKey[];
  readonly region: string;
  /** @default EXECUTE_API */
  readonly service?: string;
  /** @default the clock */
  readonly now?: () => Date;
}

/** Whether a request says it is SigV4-signed (then it is verified, never given to the token authorizer). */
export function isSigV4(authorization: string | undefined): boolean {
  return authorization?.trimStart().startsWith(`${SIGV4_ALGORITHM} `) === true;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 +Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+) *, *SignedHeaders=([a-z0-9;._-]+) *, *Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export class SigV4Verifier {
  readonly #keys: ReadonlyMap<string, KnownAccessKey>;
  readonly #region: string;
  readonly #service: string;
  readonly #now: () => Date;

  constructor(props: SigV4VerifierProps) {
    this.#keys = new Map(props.keys.map((key) => [key.accessKeyId, key]));
    this.#region = props.region;
    this.#service = props.service ?? EXECUTE_API;
    this.#now = props.now ?? (() => new Date());
  }

  /** The caller the signature proves; throws SignatureRefusedError naming why it does not. */
  async verify(request: ArrivedRequest): Promise<IamCaller> {
    const parsed = request.headers.authorization?.trim().match(AUTHORIZATION);
    if (!parsed) {
      throw refused(
        'The Authorization header is not a well-formed AWS4-HMAC-SHA256 signature (Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=…, Signature=<64 hex>).',
      );
    }
    const [, accessKeyId = '', scopeDate = '', region, service, terminator, signedList = '', signature = ''] = parsed;
    const key = this.#keys.get(accessKeyId);
    if (key === undefined) {
      throw refused(`Unknown access key: ${accessKeyId.slice(0, 128)} is not a key this API knows.`);
    }
    if (region !== this.#region || service !== this.#service || terminator !== 'aws4_request') {
      throw refused(
        `Wrong credential scope: ${region}/${service}/${terminator}; this API takes ${this.#region}/${this.#service}/aws4_request.`,
      );
    }
    const signingDate = this.#checkDate(request.headers['x-amz-date'], scopeDate);
    const signedHeaders = signedList.split(';');
    for (const required of ['host', 'x-amz-date']) {
      if (!signedHeaders.includes(required)) throw refused(`The signature must cover the ${required} header.`);
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = request.headers[name];
      if (value === undefined) throw refused(`Signature mismatch: the signed header ${name} is not in the request.`);
      headers[name] = value;
    }
    if (request.headers['x-amz-security-token'] !== undefined) {
      throw refused('Session tokens are not accepted: this key is a long-term key (unset AWS_SESSION_TOKEN).');
    }
    const bodyHash = createHash('sha256').update(request.body).digest('hex');
    const claimedHash = request.headers['x-amz-content-sha256'];
    if (claimedHash !== undefined && claimedHash !== bodyHash) {
      throw refused('Body hash mismatch: x-amz-content-sha256 is not the SHA-256 of the body received.');
    }

    const expected = await this.#expectedSignature(key, request, headers, signingDate, bodyHash);
    const presented = Buffer.from(signature, 'hex');
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
      throw refused(
        `Signature mismatch: the request's signature is not the one the secret of access key ${accessKeyId} makes for it (wrong secret, or the request changed after it was signed).`,
      );
    }
    return key.caller;
  }

  /** x-amz-date: well formed, the credential scope's day, and within 5 minutes of the clock. */
  #checkDate(amzDate: string | undefined, scopeDate: string): Date {
    const parts = amzDate?.match(AMZ_DATE);
    const [, y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0] = (parts ?? []).map(Number);
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
    // A date that does not exist (month 13, 25 o'clock) would roll over: refuse it instead.
    if (!parts || amzDateOf(date) !== amzDate) {
      throw refused('The request has no valid X-Amz-Date header (yyyyMMddTHHmmssZ).');
    }
    if (amzDate.slice(0, 8) !== scopeDate) {
      throw refused(`The credential scope's date ${scopeDate} is not the day of X-Amz-Date ${amzDate}.`);
    }
    const now = this.#now();
    if (Math.abs(now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) {
      throw refused(
        `Request time too skewed: X-Amz-Date ${amzDate} is more than 5 minutes from the server's time ${amzDateOf(now)} (check the clock).`,
      );
    }
    return date;
  }

  async #expectedSignature(
    key: KnownAccessKey,
    request: ArrivedRequest,
    headers: Record<string, string>,
    signingDate: Date,
    bodyHash: string,
  ): Promise<Buffer> {
    const queryAt = request.target.indexOf('?');
    const path = queryAt < 0 ? request.target : request.target.slice(0, queryAt);
    const rawQuery = queryAt < 0 ? '' : request.target.slice(queryAt + 1);
    const signer = new SignatureV4({
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      region: this.#region,
      service: this.#service,
      sha256: Sha256,
      // The payload hash is the body's, checked above; never add a header the client did not sign.
      applyChecksum: false,
    });
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: headers.host ?? '',
        path,
        query: queryOf(rawQuery),
        // Exactly the headers the client listed, so the canonical request names the same ones.
        headers: { ...headers, 'x-amz-content-sha256': bodyHash },
        body: undefined,
      },
      {
        signingDate,
        signableHeaders: new Set(Object.keys(headers)),
        // x-amz-content-sha256 takes part in the hash only if the client signed it.
        ...(headers['x-amz-content-sha256'] === undefined
          ? { unsignableHeaders: new Set(['x-amz-content-sha256']) }
          : {}),
      },
    );
    const computed = signed.headers.authorization?.match(/Signature=([0-9a-f]{64})$/)?.[1] ?? '';
    return Buffer.from(computed, 'hex');
  }
}

function queryOf(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(raw)) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

function amzDateOf(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function refused(detail: string): SignatureRefusedError {
  return new SignatureRefusedError(detail);
}
