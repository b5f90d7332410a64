import { LocalEvidenceSigner, LocalSigningKeyError } from '../../functions/adapters/local/local-signer.ts';
import type { DataDir } from './data-dir.ts';
import { LocalStackError } from './local-stack-error.ts';

/**
 * The local stack's evidence signing key: created in the data dir on the first start, the same
 * key on every later one (as the KMS key is on AWS). A broken key file stops the start with one
 * line saying which file and what to do, rather than signing with a key nobody can verify.
 */
export async function openLocalSigner(dir: DataDir): Promise<LocalEvidenceSigner> {
  try {
    return await LocalEvidenceSigner.open({
      privateKeyFile: dir.signingKeyFile,
      publicKeysDir: dir.publicKeysDir,
    });
  } catch (error) {
    if (error instanceof LocalSigningKeyError) throw new LocalStackError(error.message, { cause: error });
    throw error;
  }
}
