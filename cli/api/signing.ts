import { AuthError } from '../errors.ts';
import type { ApiConfig, AuthMode } from './config.ts';
import { SigV4Signer, signingRegion, standardCredentialChain } from './sigv4-signer.ts';

// How a request is authenticated: a Bearer API token, or SigV4 (`--auth sigv4`, sigv4-signer.ts).

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** Adds authentication to a request; returns the headers to send with it. */
export interface RequestSigner {
  /** What it authenticates with, so a refusal's message names what to check. @default 'bearer' */
  readonly auth?: AuthMode;
  sign(request: SignableRequest): Promise<Record<string, string>>;
}

/** `Authorization: Bearer <token>`. The token is held privately and never rendered. */
export class BearerSigner implements RequestSigner {
  readonly auth = 'bearer';
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  async sign(request: SignableRequest): Promise<Record<string, string>> {
    return { ...request.headers, authorization: `Bearer ${this.#token}` };
  }

  toJSON(): string {
    return 'BearerSigner(***)';
  }
}

/** Tokens go into an HTTP header: visible ASCII only, which also keeps them out of fetch errors. */
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

/**
 * The signer for a configuration; throws AuthError when no usable token is configured. SigV4
 * needs no token: its credentials come from the standard AWS chain when the first request is signed.
 */
export function createSigner(config: ApiConfig): RequestSigner {
  if (config.auth === 'sigv4') {
    return new SigV4Signer({
      credentials: standardCredentialChain(),
      region: signingRegion(config.apiUrl, config.awsRegion),
    });
  }
  if (config.token === undefined) {
    throw new AuthError('no API token: set KEEPTRUSTS_API_TOKEN (or pass --token)');
  }
  if (!TOKEN_SHAPE.test(config.token)) {
    throw new AuthError(
      'the API token contains spaces or characters a token cannot have; check KEEPTRUSTS_API_TOKEN',
    );
  }
  return new BearerSigner(config.token);
}
