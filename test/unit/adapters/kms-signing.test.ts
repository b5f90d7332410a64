import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  GetPublicKeyCommand,
  KMSClient,
  KMSInvalidStateException,
  NotFoundException,
  SignCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KmsPublicKeyDirectory } from '../../../functions/adapters/kms/kms-public-keys.ts';
import { KMS_RAW_MESSAGE_LIMIT, KmsEvidenceSigner } from '../../../functions/adapters/kms/kms-signer.ts';
import { kmsSigning } from '../../../functions/adapters/kms/kms-signing.ts';
import { ConfigurationError, runtimeConfigFromEnv } from '../../../functions/adapters/runtime-config.ts';
import { DependencyError, IntegrityError } from '../../../functions/core/errors.ts';
import { SIGNATURE_ALGORITHM, verifyEvidenceSignature } from '../../../functions/core/evidence/signing.ts';
import { rejection } from '../../support/rejection.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OLD_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b7d4c1e-5a8f-4e2b-9c3d-6f1a2b3c4d5e';

const kms = new KMSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});
const kmsMock = mockClient(kms);
beforeEach(() => kmsMock.reset());

/** A P-256 key pair standing in for the KMS key: the fake KMS signs with its private half. */
function p256(): { privateKey: KeyObject; publicKey: KeyObject; der: Buffer; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    publicKey,
    der: publicKey.export({ format: 'der', type: 'spki' }),
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

const meta = { $metadata: { httpStatusCode: 400 } };
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

describe('KmsEvidenceSigner', () => {
  const key = p256();
  /** KMS as it behaves: a RAW message is hashed by KMS, a DIGEST is signed as given. */
  const fakeKms = (original: Buffer) =>
    kmsMock.on(SignCommand).callsFake((input: { Message: Uint8Array; MessageType: string }) => {
      const expected = input.MessageType === 'RAW' ? original : sha256(original);
      expect(Buffer.from(input.Message).equals(expected)).toBe(true);
      return {
        KeyId: KEY_ARN,
        Signature: sign('sha256', original, { key: key.privateKey, dsaEncoding: 'der' }),
      };
    });

  it.each([
    ['a small message', 57, 'RAW'],
    ['a message at the RAW limit', KMS_RAW_MESSAGE_LIMIT, 'RAW'],
    ['a message one byte over it', KMS_RAW_MESSAGE_LIMIT + 1, 'DIGEST'],
    ['a large message', 1_000_000, 'DIGEST'],
  ])(
    'signs %s (%i bytes) as %s with ECDSA_SHA_256, verifiable over the message itself',
    async (_, size, type) => {
      const message = Buffer.alloc(size, 0x61);
      fakeKms(message);
      const signature = await new KmsEvidenceSigner(kms, KEY_ARN).sign(message);

      const input = kmsMock.commandCalls(SignCommand)[0]!.args[0].input;
      expect(input).toMatchObject({ KeyId: KEY_ARN, MessageType: type, SigningAlgorithm: 'ECDSA_SHA_256' });
      expect(Buffer.from(input.Message!)).toEqual(type === 'RAW' ? message : sha256(message));
      expect(signature).toEqual({
        keyId: KEY_ARN,
        algorithm: SIGNATURE_ALGORITHM,
        signature: expect.any(String),
      });
      expect(verifyEvidenceSignature(key.pem, message, signature.signature)).toBe(true);
    },
  );

  it('names the key ARN KMS reports even when configured by alias', async () => {
    fakeKms(Buffer.from('m'));
    const signature = await new KmsEvidenceSigner(kms, 'alias/keeptrusts-evidence').sign(Buffer.from('m'));
    expect(signature.keyId).toBe(KEY_ARN);
  });

  it.each([
    ['a missing key', () => new NotFoundException({ message: 'Key not found', ...meta })],
    ['a disabled key', () => new KMSInvalidStateException({ message: 'Key is disabled', ...meta })],
    ['a network error', () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
  ])('turns %s into a DependencyError naming the key, keeping the cause', async (_, make) => {
    const cause = make();
    kmsMock.on(SignCommand).rejects(cause);
    const error = await rejection(
      new KmsEvidenceSigner(kms, KEY_ARN).sign(Buffer.from('m')),
      DependencyError,
    );
    expect(error.cause).toBe(cause);
    expect(error.message).toContain(KEY_ARN);
  });

  it('refuses an answer without a signature', async () => {
    kmsMock.on(SignCommand).resolves({ KeyId: KEY_ARN });
    await rejection(new KmsEvidenceSigner(kms, KEY_ARN).sign(Buffer.from('m')), DependencyError);
  });
});

describe('KmsPublicKeyDirectory', () => {
  const current = p256();
  const retired = p256();
  const answer = (arn: string, der: Buffer) => ({
    KeyId: arn,
    PublicKey: der,
    KeySpec: 'ECC_NIST_P256' as const,
    KeyUsage: 'SIGN_VERIFY' as const,
    SigningAlgorithms: ['ECDSA_SHA_256' as const],
  });

  it('lists the current key first, then the retired ones, as SPKI PEM', async () => {
    kmsMock.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves(answer(KEY_ARN, current.der));
    kmsMock.on(GetPublicKeyCommand, { KeyId: OLD_ARN }).resolves(answer(OLD_ARN, retired.der));
    const keys = await new KmsPublicKeyDirectory(kms, KEY_ARN, [OLD_ARN, KEY_ARN]).publicKeys();
    expect(keys).toEqual([
      { keyId: KEY_ARN, algorithm: SIGNATURE_ALGORITHM, publicKeyPem: current.pem, current: true },
      { keyId: OLD_ARN, algorithm: SIGNATURE_ALGORITHM, publicKeyPem: retired.pem, current: false },
    ]);
    expect(keys[0]!.publicKeyPem).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/,
    );
  });

  it('asks KMS once per key and process', async () => {
    kmsMock.on(GetPublicKeyCommand).resolves(answer(KEY_ARN, current.der));
    const directory = new KmsPublicKeyDirectory(kms, KEY_ARN);
    await Promise.all([directory.publicKeys(), directory.publicKeys()]);
    await directory.publicKeys();
    expect(kmsMock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });

  it('turns a KMS failure into a DependencyError with the cause, and asks again next time', async () => {
    const cause = new NotFoundException({ message: 'Key not found', ...meta });
    kmsMock.on(GetPublicKeyCommand).rejectsOnce(cause).resolves(answer(KEY_ARN, current.der));
    const directory = new KmsPublicKeyDirectory(kms, KEY_ARN);
    const error = await rejection(directory.publicKeys(), DependencyError);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain(KEY_ARN);
    await expect(directory.publicKeys()).resolves.toHaveLength(1);
  });

  it('refuses a key that is not a P-256 signing key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      format: 'der',
      type: 'spki',
    });
    kmsMock.on(GetPublicKeyCommand).resolves({ ...answer(KEY_ARN, rsa), KeySpec: 'RSA_2048' });
    await rejection(new KmsPublicKeyDirectory(kms, KEY_ARN).publicKeys(), IntegrityError);
    kmsMock.reset();
    kmsMock.on(GetPublicKeyCommand).resolves({ ...answer(KEY_ARN, rsa), KeySpec: undefined });
    const error = await rejection(new KmsPublicKeyDirectory(kms, KEY_ARN).publicKeys(), IntegrityError);
    expect(error.message).toContain('not a P-256');
  });
});

describe('signing configuration', () => {
  const base = { EVENTS_TABLE: 'e', CONTROL_TABLE: 'c', ARTIFACT_BUCKET: 'b' };

  it('reads SIGNING_KEY_ID and the comma-separated SIGNING_KEY_IDS_RETIRED', () => {
    expect(
      runtimeConfigFromEnv({
        ...base,
        SIGNING_KEY_ID: KEY_ARN,
        SIGNING_KEY_IDS_RETIRED: ` ${OLD_ARN} ,, k2 `,
      }),
    ).toMatchObject({ signingKeyId: KEY_ARN, retiredSigningKeyIds: [OLD_ARN, 'k2'] });
    const none = runtimeConfigFromEnv({ ...base, SIGNING_KEY_IDS_RETIRED: '' });
    expect(none.signingKeyId).toBeUndefined();
    expect(none.retiredSigningKeyIds).toBeUndefined();
  });

  it('fails signing and listing with a ConfigurationError where SIGNING_KEY_ID is not set', async () => {
    const { signer, publicKeys } = kmsSigning(runtimeConfigFromEnv(base));
    expect((await rejection(signer.sign(Buffer.from('m')), ConfigurationError)).variable).toBe(
      'SIGNING_KEY_ID',
    );
    await rejection(publicKeys.publicKeys(), ConfigurationError);
  });
});
