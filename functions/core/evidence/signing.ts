import { createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.ts';
import { DependencyError } from '../errors.ts';
import type { EvidenceSigner } from '../ports.ts';

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
export function verifyEvidenceSignature(
  publicKeyPem: string,
  message: Uint8Array,
  signature: string,
): boolean {
  try {
    const key = createPublicKey(publicKeyPem);
    return verify('sha256', message, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false; // a malformed key or signature verifies nothing
  }
}

/** A signed evidence document: its own members, the key that signed them, and the signature. */
export type SignedDocument<T> = T & {
  readonly keyId: string;
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  readonly signature: string;
};

/**
 * The bytes a document's signature covers: the UTF-8 canonical JSON (canonical-json.ts) of every
 * member except `signature` itself, the key id and algorithm included, so neither can be swapped
 * afterwards without breaking the signature.
 */
export function documentSigningBytes(document: object): Uint8Array {
  const { signature: _signature, ...signed } = document as Record<string, unknown>;
  return new TextEncoder().encode(canonicalJson(signed));
}

/** Whether a signed document verifies with the PEM public key (false for anything malformed). */
export function verifyDocumentSignature(document: object, publicKeyPem: string): boolean {
  const { signature } = document as { signature?: unknown };
  if (typeof signature !== 'string') return false;
  try {
    return verifyEvidenceSignature(publicKeyPem, documentSigningBytes(document), signature);
  } catch {
    return false; // a member canonical JSON cannot spell
  }
}

/**
 * The key each signer signed with last. The key id is part of what a document signs, but the
 * EvidenceSigner port names its key only in a signature (KMS reports the key ARN even when it is
 * configured by alias): the first document a process signs learns it from a throwaway signature,
 * later ones reuse it, and a rotation in between is noticed by the signature's key id and the
 * document signed again.
 */
const lastKeys = new WeakMap<EvidenceSigner, { keyId: string; algorithm: typeof SIGNATURE_ALGORITHM }>();

/** Signs `unsigned` (strings, safe integers and objects only) with the signer's current key. */
export async function signDocument<T extends object>(
  signer: EvidenceSigner,
  unsigned: T,
): Promise<SignedDocument<T>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let key = lastKeys.get(signer);
    if (key === undefined) {
      const probe = await signer.sign(new TextEncoder().encode(canonicalJson(unsigned)));
      key = { keyId: probe.keyId, algorithm: probe.algorithm };
    }
    const document = { ...unsigned, ...key };
    const signed = await signer.sign(documentSigningBytes(document));
    lastKeys.set(signer, { keyId: signed.keyId, algorithm: signed.algorithm });
    if (signed.keyId === key.keyId && signed.algorithm === key.algorithm) {
      return { ...document, signature: signed.signature };
    }
  }
  throw new DependencyError('The evidence signing key changed on every try; the document was not signed.');
}
