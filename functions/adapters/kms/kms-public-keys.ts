import { GetPublicKeyCommand, type GetPublicKeyCommandOutput, type KMSClient } from '@aws-sdk/client-kms';
import { DependencyError, IntegrityError } from '../../core/errors.ts';
import { p256PublicKey, spkiPem } from '../../core/evidence/public-key.ts';
import { type PublicKeyInfo, SIGNATURE_ALGORITHM } from '../../core/evidence/signing.ts';
import type { PublicKeyDirectory } from '../../core/ports.ts';

interface CachedKey {
  readonly keyId: string;
  readonly publicKeyPem: string;
}

/**
 * The public halves of the signing KMS keys: the current one and the retired ones that signed
 * older evidence. A key's public half never changes, so each is fetched once per process.
 */
export class KmsPublicKeyDirectory implements PublicKeyDirectory {
  private readonly cache = new Map<string, Promise<CachedKey>>();

  constructor(
    private readonly kms: KMSClient,
    private readonly currentKeyId: string,
    private readonly retiredKeyIds: readonly string[] = [],
  ) {}

  async publicKeys(): Promise<readonly PublicKeyInfo[]> {
    const retired = [...new Set(this.retiredKeyIds)].filter((id) => id !== this.currentKeyId);
    const keys = await Promise.all([this.currentKeyId, ...retired].map((id) => this.publicKey(id)));
    return keys.map((key, i) => ({
      keyId: key.keyId,
      algorithm: SIGNATURE_ALGORITHM,
      publicKeyPem: key.publicKeyPem,
      current: i === 0,
    }));
  }

  private publicKey(keyId: string): Promise<CachedKey> {
    let pending = this.cache.get(keyId);
    if (pending === undefined) {
      pending = this.fetch(keyId);
      // A failure is not remembered: the next request asks KMS again.
      pending.catch(() => this.cache.delete(keyId));
      this.cache.set(keyId, pending);
    }
    return pending;
  }

  private async fetch(keyId: string): Promise<CachedKey> {
    let response: GetPublicKeyCommandOutput;
    try {
      response = await this.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    } catch (error) {
      throw new DependencyError(`Reading the public key of KMS key ${keyId} failed.`, { cause: error });
    }
    if (response.KeyUsage !== undefined && response.KeyUsage !== 'SIGN_VERIFY') {
      throw new IntegrityError(`KMS key ${keyId} is a ${response.KeyUsage} key, not a signing key.`);
    }
    if (response.KeySpec !== undefined && response.KeySpec !== 'ECC_NIST_P256') {
      throw new IntegrityError(`KMS key ${keyId} is a ${response.KeySpec} key, not ECC_NIST_P256.`);
    }
    if (response.PublicKey === undefined) {
      throw new DependencyError(`KMS returned no public key for key ${keyId}.`);
    }
    const key = p256PublicKey(response.PublicKey, `the public key of KMS key ${keyId}`);
    return { keyId: response.KeyId ?? keyId, publicKeyPem: spkiPem(key) };
  }
}
