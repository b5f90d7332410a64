import type { ApiClient } from '../api/client.ts';
import { ApiError } from '../errors.ts';

/**
 * `GET /v1/keys` as the CLI reads it: the public keys that sign evidence. The CLI keeps its own
 * copy of this HTTP contract and checks every answer, because it prints the PEM as is: a reply that
 * is not a plain PEM public key must not reach a terminal or a file.
 */

export interface PublicKeyView {
  readonly keyId: string;
  readonly algorithm: string;
  readonly publicKeyPem: string;
  readonly current: boolean;
  readonly createdAt?: string;
}

export interface PublicKeyList {
  readonly keys: readonly PublicKeyView[];
}

const PUBLIC_KEY_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/;

export async function fetchKeyList(client: ApiClient): Promise<PublicKeyList> {
  const response = await client.get('/v1/keys');
  return readKeyList(response.body, response.status);
}

/** Checks a `GET /v1/keys` answer; an ApiError (exit 1) naming what is wrong otherwise. */
export function readKeyList(body: unknown, status = 200): PublicKeyList {
  const fail = (problem: string) =>
    new ApiError(`the API sent a key list the CLI cannot read (${problem})`, status);
  if (!isObject(body) || !Array.isArray(body.keys)) throw fail('no "keys" array');
  body.keys.forEach((key, i) => {
    const problem = keyProblem(key);
    if (problem !== undefined) throw fail(`keys[${i}]: ${problem}`);
  });
  return body as unknown as PublicKeyList;
}

function keyProblem(key: unknown): string | undefined {
  if (!isObject(key)) return 'not a JSON object';
  if (typeof key.keyId !== 'string' || key.keyId === '') return '"keyId" is not a string';
  if (typeof key.algorithm !== 'string') return '"algorithm" is not a string';
  if (typeof key.publicKeyPem !== 'string' || !PUBLIC_KEY_PEM.test(key.publicKeyPem)) {
    return '"publicKeyPem" is not a PEM public key';
  }
  if (typeof key.current !== 'boolean') return '"current" is not true or false';
  if (key.createdAt !== undefined && typeof key.createdAt !== 'string') return '"createdAt" is not a string';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
