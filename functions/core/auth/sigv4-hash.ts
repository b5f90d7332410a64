import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/** The service name in a SigV4 credential scope for API Gateway (what IAM calls execute-api:Invoke). */
export const EXECUTE_API = 'execute-api';

/**
 * SHA-256 (or HMAC-SHA256 with a secret) over node:crypto, in the shape @smithy/signature-v4
 * asks for (its `sha256` option), so SigV4 needs no extra crypto package. Shared by the CLI's
 * signer (cli/api/sigv4-signer.ts) and the local stack's verifier (infra/local/sigv4-verifier.ts):
 * both must hash the same bytes the same way and name the same service.
 */
export class Sha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
