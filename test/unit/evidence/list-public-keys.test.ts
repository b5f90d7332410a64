import { listPublicKeys } from '../../../functions/core/evidence/list-public-keys.ts';
import { type PublicKeyInfo, SIGNATURE_ALGORITHM } from '../../../functions/core/evidence/signing.ts';

const key = (keyId: string, current: boolean, createdAt?: string): PublicKeyInfo => ({
  keyId,
  algorithm: SIGNATURE_ALGORITHM,
  publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${keyId}\n-----END PUBLIC KEY-----\n`,
  current,
  ...(createdAt === undefined ? {} : { createdAt }),
});

describe('listPublicKeys', () => {
  it('puts the current key first, then retired keys newest first (undated last)', async () => {
    const keys = [
      key('kt-local-old', false, '2026-01-01T00:00:00.000Z'),
      key('kt-local-undated', false),
      key('kt-local-now', true, '2026-03-01T00:00:00.000Z'),
      key('kt-local-mid', false, '2026-02-01T00:00:00.000Z'),
    ];
    const list = await listPublicKeys({ publicKeys: { publicKeys: async () => keys } });
    expect(list.keys.map((k) => k.keyId)).toEqual([
      'kt-local-now',
      'kt-local-mid',
      'kt-local-old',
      'kt-local-undated',
    ]);
  });

  it('answers an empty list as such', async () => {
    expect(await listPublicKeys({ publicKeys: { publicKeys: async () => [] } })).toEqual({ keys: [] });
  });
});
