import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalStack } from '../../infra/local/local-stack.ts';
import { testStackConfig } from '../support/local-stack-config.ts';

/** The audit trail shows from when each signing key signed: one key.created per key, across restarts. */
describe('signing keys in the audit trail', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kt-key-audit-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = () => startLocalStack(testStackConfig(dataDir));
  const keyEntries = async (stack: Awaited<ReturnType<typeof start>>) =>
    (await stack.adapters.auditLog.entries()).filter((entry) => entry.action === 'key.created');

  it('records the key on first start only, and a rotated key once more', async () => {
    let stack = await start();
    const [first] = await stack.adapters.publicKeys.publicKeys();
    expect(await keyEntries(stack)).toEqual([
      expect.objectContaining({
        subject: first!.keyId,
        actor: 'local-stack',
        details: expect.objectContaining({ algorithm: 'ECDSA_P256_SHA256' }),
      }),
    ]);
    await stack.stop();

    stack = await start();
    expect(await keyEntries(stack)).toHaveLength(1);
    await stack.stop();

    // Rotation, as the README describes it: move the private key away; the next start makes a new one.
    renameSync(path.join(dataDir, 'signing-key.pem'), path.join(dataDir, 'signing-key.old.pem'));
    stack = await start();
    try {
      const keys = await stack.adapters.publicKeys.publicKeys();
      const current = keys.find((key) => key.current)!;
      expect(current.keyId).not.toBe(first!.keyId);
      expect((await keyEntries(stack)).map((entry) => entry.subject)).toEqual([first!.keyId, current.keyId]);
    } finally {
      await stack.stop();
    }
  });
});
