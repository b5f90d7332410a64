import { createPublicKey, type KeyObject } from 'node:crypto';
import { IntegrityError } from '../errors.ts';

/**
 * Public keys as evidence keeps them: SPKI, PEM for people and openssl, DER for key ids. Only
 * P-256 keys are accepted, because no other key can have made an `ECDSA_P256_SHA256` signature and
 * listing one would send an auditor after a key that verifies nothing.
 */

/** The P-256 public key in SPKI DER or PEM; an IntegrityError naming `what` for anything else. */
export function p256PublicKey(spki: Uint8Array | string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key =
      typeof spki === 'string'
        ? createPublicKey(spki)
        : createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new IntegrityError(`${what} is not a public key`, { cause });
  }
  return requireP256(key, what);
}

/** The key itself when it is a P-256 (prime256v1) key, public or private. */
export function requireP256(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType ?? key.type;
    throw new IntegrityError(`${what} is a ${kind} key, not a P-256 (ECDSA) key`);
  }
  return key;
}

export function spkiPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}
