import { createPublicKey, verify } from 'node:crypto';

/**
 * Evidence signatures: manifests and audit checkpoints are signed with ECDSA over P-256 and
 * SHA-256 (KMS `ECDSA_SHA_256` on AWS, a local key pair on the local stack), the signature
 * DER-encoded as KMS returns it, and written in base64. That is exactly what
 * `openssl dgst -sha256 -verify key.pem -signature sig.der message` checks, so an auditor needs
 * nothing of ours to verify it.
 */

export const SIGNATURE_ALGORITHM = 'ECDSA_P256_SHA256' as const;

export interface EvidenceSignature {
  /** Which key signed: look it up with GET /v1/keys or `kt keys get --id`. */
  readonly keyId: string;
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  /** Base64 of the DER-encoded ECDSA signature. */
  readonly signature: string;
}

/** A public key that signs (or once signed) evidence. */
export interface PublicKeyInfo {
  readonly keyId: string;
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  /** SPKI public key, PEM (`-----BEGIN PUBLIC KEY-----`). */
  readonly publicKeyPem: string;
  /** Whether new evidence is signed with it; retired keys stay listed so old evidence verifies. */
  readonly current: boolean;
  readonly createdAt?: string;
}

/** Whether `signature` (base64 DER) over `message` verifies with the PEM public key. */
export function verifyEvidenceSignature(publicKeyPem: string, message: Uint8Array, signature: string): boolean {
  try {
    const key = createPublicKey(publicKeyPem);
    return verify('sha256', message, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false; // a malformed key or signature verifies nothing
  }
}
