import { createHash } from 'node:crypto';
import { type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { DependencyError } from '../../core/errors.ts';
import { type EvidenceSignature, SIGNATURE_ALGORITHM } from '../../core/evidence/signing.ts';
import type { EvidenceSigner } from '../../core/ports.ts';

/** The largest message KMS Sign accepts as `RAW`; a longer one is sent as its SHA-256 digest. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

/**
 * Signs evidence with an asymmetric KMS key (ECC_NIST_P256, ECDSA_SHA_256); the private key never
 * leaves KMS. A RAW message and the DIGEST of the same message give signatures that verify
 * alike, because KMS hashes a RAW message with SHA-256 itself.
 */
export class KmsEvidenceSigner implements EvidenceSigner {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async sign(message: Uint8Array): Promise<EvidenceSignature> {
    const raw = message.byteLength <= KMS_RAW_MESSAGE_LIMIT;
    let response: { Signature?: Uint8Array; KeyId?: string };
    try {
      response = await this.kms.send(
        new SignCommand({
          KeyId: this.keyId,
          Message: raw ? message : createHash('sha256').update(message).digest(),
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
    } catch (error) {
      throw new DependencyError(`Signing with KMS key ${this.keyId} failed.`, { cause: error });
    }
    if (response.Signature === undefined || response.Signature.byteLength === 0) {
      throw new DependencyError(`KMS returned no signature for key ${this.keyId}.`);
    }
    return {
      // The key ARN KMS reports, as GET /v1/keys lists it, even when configured by id or alias.
      keyId: response.KeyId ?? this.keyId,
      algorithm: SIGNATURE_ALGORITHM,
      signature: Buffer.from(response.Signature).toString('base64'),
    };
  }
}
