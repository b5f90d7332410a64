import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  LocalEvidenceSigner,
  LocalSigningKeyError,
  localKeyIdOf,
} from '../../../functions/adapters/local/local-signer.ts';
import { SIGNATURE_ALGORITHM, verifyEvidenceSignature } from '../../../functions/core/evidence/signing.ts';
import { rejection } from '../../support/rejection.ts';

/** The local stack's signer against a real temporary data folder and the real openssl binary. */

let root: string;
const files = () => ({
  privateKeyFile: path.join(root, 'signing-key.pem'),
  publicKeysDir: path.join(root, 'keys'),
});
const MESSAGE = Buffer.from('{"export":"exp_01jq8m3k7b5x9c2d4f6h","sha256":"ab12"}');

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'kt-signer-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function currentPem(signer: LocalEvidenceSigner): Promise<string> {
  const current = (await signer.publicKeys()).find((key) => key.current);
  expect(current).toBeDefined();
  return current!.publicKeyPem;
}

describe('LocalEvidenceSigner', () => {
  it('signs so that the listed public key verifies the message, and nothing else', async () => {
    const signer = await LocalEvidenceSigner.open(files());
    const signature = await signer.sign(MESSAGE);
    expect(signature).toEqual({
      keyId: signer.keyId,
      algorithm: SIGNATURE_ALGORITHM,
      signature: expect.any(String),
    });
    const pem = await currentPem(signer);
    expect(verifyEvidenceSignature(pem, MESSAGE, signature.signature)).toBe(true);

    const flipped = Buffer.from(MESSAGE);
    flipped[5]! ^= 0x01;
    expect(verifyEvidenceSignature(pem, flipped, signature.signature)).toBe(false);
    const der = Buffer.from(signature.signature, 'base64');
    der[der.length - 1]! ^= 0x01;
    expect(verifyEvidenceSignature(pem, MESSAGE, der.toString('base64'))).toBe(false);
  });

  it("does not verify another key's signature", async () => {
    const mine = await LocalEvidenceSigner.open(files());
    const other = await LocalEvidenceSigner.open({
      privateKeyFile: path.join(root, 'other', 'signing-key.pem'),
      publicKeysDir: path.join(root, 'other', 'keys'),
    });
    expect(other.keyId).not.toBe(mine.keyId);
    const signature = await other.sign(MESSAGE);
    expect(verifyEvidenceSignature(await currentPem(mine), MESSAGE, signature.signature)).toBe(false);
    expect(verifyEvidenceSignature(await currentPem(other), MESSAGE, signature.signature)).toBe(true);
  });

  it('names the key kt-local- and 16 hex characters of the SHA-256 of its SPKI DER', async () => {
    const signer = await LocalEvidenceSigner.open(files());
    const spki = createPublicKey(await currentPem(signer)).export({ format: 'der', type: 'spki' });
    expect(signer.keyId).toBe(`kt-local-${createHash('sha256').update(spki).digest('hex').slice(0, 16)}`);
    expect(signer.keyId).toMatch(/^kt-local-[0-9a-f]{16}$/);
  });

  it('creates the private key once, owner-only, and reuses it on the next start', async () => {
    const first = await LocalEvidenceSigner.open(files());
    const { privateKeyFile, publicKeysDir } = files();
    const created = await fs.readFile(privateKeyFile, 'utf8');
    expect(created).toContain('-----BEGIN PRIVATE KEY-----');
    expect((await fs.stat(privateKeyFile)).mode & 0o777).toBe(0o600);
    expect(await fs.readdir(publicKeysDir)).toEqual([`${first.keyId}.pem`]);

    const second = await LocalEvidenceSigner.open(files());
    expect(second.keyId).toBe(first.keyId);
    expect(await fs.readFile(privateKeyFile, 'utf8')).toBe(created);
    // Evidence signed before the restart verifies with the key listed after it.
    const signature = await first.sign(MESSAGE);
    expect(verifyEvidenceSignature(await currentPem(second), MESSAGE, signature.signature)).toBe(true);
  });

  it('lists retired public keys from the keys folder, only the signing key as current', async () => {
    const retiredPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const retiredId = localKeyIdOf(retiredPair.publicKey);
    const { publicKeysDir } = files();
    await fs.mkdir(publicKeysDir, { recursive: true });
    const retiredPem = retiredPair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await fs.writeFile(path.join(publicKeysDir, `${retiredId}.pem`), retiredPem);
    await fs.writeFile(path.join(publicKeysDir, 'README'), 'not a key file');

    const signer = await LocalEvidenceSigner.open(files());
    const keys = await signer.publicKeys();
    expect(keys.map((key) => [key.keyId, key.current]).sort()).toEqual(
      [
        [signer.keyId, true],
        [retiredId, false],
      ].sort(),
    );
    expect(keys.find((key) => key.keyId === retiredId)?.publicKeyPem).toBe(retiredPem);
    for (const key of keys) {
      expect(key.algorithm).toBe(SIGNATURE_ALGORITHM);
      expect(Date.parse(key.createdAt!)).not.toBeNaN();
    }
  });

  it('keeps listing the old key after a rotation (the private key replaced)', async () => {
    const before = await LocalEvidenceSigner.open(files());
    const oldSignature = await before.sign(MESSAGE);
    await fs.rename(files().privateKeyFile, path.join(root, 'retired-signing-key.pem'));

    const after = await LocalEvidenceSigner.open(files());
    expect(after.keyId).not.toBe(before.keyId);
    const keys = await after.publicKeys();
    const old = keys.find((key) => key.keyId === oldSignature.keyId);
    expect(old?.current).toBe(false);
    expect(keys.filter((key) => key.current).map((key) => key.keyId)).toEqual([after.keyId]);
    expect(verifyEvidenceSignature(old!.publicKeyPem, MESSAGE, oldSignature.signature)).toBe(true);
  });

  it('refuses a private key file that is not a P-256 key, and does not replace it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const text = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await fs.writeFile(files().privateKeyFile, text);
    const error = await rejection(LocalEvidenceSigner.open(files()), LocalSigningKeyError);
    expect(error.message).toContain('is not a P-256 private key');
    expect(await fs.readFile(files().privateKeyFile, 'utf8')).toBe(text);
  });

  it('refuses a public key file that is not a P-256 public key, naming the file', async () => {
    await fs.mkdir(files().publicKeysDir, { recursive: true });
    await fs.writeFile(path.join(files().publicKeysDir, 'kt-local-broken.pem'), 'garbage');
    const error = await rejection(LocalEvidenceSigner.open(files()), LocalSigningKeyError);
    expect(error.message).toContain('kt-local-broken.pem');
  });

  it('makes signatures the openssl binary verifies (and refuses for a changed message)', async () => {
    const signer = await LocalEvidenceSigner.open(files());
    const signature = await signer.sign(MESSAGE);
    const key = path.join(root, 'key.pem');
    const sig = path.join(root, 'sig.der');
    const msg = path.join(root, 'manifest.json');
    await fs.writeFile(key, await currentPem(signer));
    await fs.writeFile(sig, Buffer.from(signature.signature, 'base64'));
    await fs.writeFile(msg, MESSAGE);

    const openssl = (file: string) =>
      promisify(execFile)('openssl', ['dgst', '-sha256', '-verify', key, '-signature', sig, file]);
    await expect(openssl(msg)).resolves.toMatchObject({ stdout: 'Verified OK\n' });

    const changed = path.join(root, 'changed.json');
    await fs.writeFile(changed, Buffer.concat([MESSAGE, Buffer.from(' ')]));
    await expect(openssl(changed)).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringContaining('Verification failure'),
    });
  });
});
