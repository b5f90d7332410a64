import { KMSClient } from '@aws-sdk/client-kms';
import type { EvidenceSigner, PublicKeyDirectory } from '../../core/ports.ts';
import { ConfigurationError, type RuntimeConfig } from '../runtime-config.ts';
import { KmsPublicKeyDirectory } from './kms-public-keys.ts';
import { KmsEvidenceSigner } from './kms-signer.ts';

export interface EvidenceSigning {
  readonly signer: EvidenceSigner;
  readonly publicKeys: PublicKeyDirectory;
}

/** The KMS signer and key directory for a deployed function, from its SIGNING_KEY_* settings. */
export function kmsSigning(config: RuntimeConfig): EvidenceSigning {
  const keyId = config.signingKeyId;
  if (keyId === undefined) {
    // Only the functions that sign or list keys are given the key; the others never reach this.
    const missing = () => Promise.reject(new ConfigurationError('SIGNING_KEY_ID'));
    return { signer: { sign: missing }, publicKeys: { publicKeys: missing } };
  }
  const kms = new KMSClient({ region: config.region });
  return {
    signer: new KmsEvidenceSigner(kms, keyId),
    publicKeys: new KmsPublicKeyDirectory(kms, keyId, config.retiredSigningKeyIds ?? []),
  };
}
