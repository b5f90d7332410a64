import type { PublicKeyDirectory } from '../ports.ts';
import type { PublicKeyInfo } from './signing.ts';

/** What the keys operation needs; the composition root provides it. */
export interface KeyOperationDeps {
  readonly publicKeys: PublicKeyDirectory;
}

export interface PublicKeyList {
  readonly keys: readonly PublicKeyInfo[];
}

/**
 * GET /v1/keys: the keys evidence verifies with. The signing key comes first, so a caller that
 * wants "the" key takes the first; retired keys follow, newest first, so old evidence verifies.
 * No scope is asked for: the keys are public. The route still requires a valid token.
 */
export async function listPublicKeys(deps: KeyOperationDeps): Promise<PublicKeyList> {
  const keys = [...(await deps.publicKeys.publicKeys())];
  keys.sort(
    (a, b) =>
      Number(b.current) - Number(a.current) ||
      (b.createdAt ?? '').localeCompare(a.createdAt ?? '') ||
      a.keyId.localeCompare(b.keyId),
  );
  return { keys };
}
