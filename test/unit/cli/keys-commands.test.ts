import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ApiError, CommandFailedError, exitCodeFor, UsageError } from '../../../cli/errors.ts';
import { getKey, listKeys } from '../../../cli/keys/key-actions.ts';
import { exportContext, type FakeApi, sendJson, startFakeApi, TOKEN } from './export-fixtures.ts';
import { rejection, tempDir } from './helpers.ts';

/**
 * `kt keys list | get` against a loopback HTTP server standing in for the API, called directly
 * (commander is ESM-only; the real executable is covered by the program tests).
 */

const pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString();
const CURRENT = {
  keyId: 'kt-local-3f9a0c1d2e4b5a69',
  algorithm: 'ECDSA_P256_SHA256',
  publicKeyPem: pem(),
  current: true,
  createdAt: '2026-04-23T14:30:00.123Z',
};
const RETIRED = {
  keyId: 'arn:aws:kms:eu-west-1:123456789012:key/0b7d4c1e-5a8f-4e2b-9c3d-6f1a2b3c4d5e',
  algorithm: 'ECDSA_P256_SHA256',
  publicKeyPem: pem(),
  current: false,
};
const LIST = { keys: [CURRENT, RETIRED] };

let api: FakeApi;
const dir = tempDir();
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(async () => {
  await api.close();
  dir.cleanup();
});
beforeEach(() => {
  api.reset();
  api.route('GET /v1/keys', (_req, res) => sendJson(res, 200, LIST));
});

describe('kt keys list', () => {
  it('prints a table of the keys, current first, with the token sent', async () => {
    const { context, globals, io } = exportContext(api.url);
    await listKeys(context, globals);
    const width = RETIRED.keyId.length + 2;
    expect(io.out().split('\n')).toEqual([
      `${'KEY ID'.padEnd(width)}ALGORITHM          CURRENT  CREATED`,
      `${CURRENT.keyId.padEnd(width)}ECDSA_P256_SHA256  yes      2026-04-23T14:30:00Z`,
      `${RETIRED.keyId}  ECDSA_P256_SHA256  no       -`,
      '',
    ]);
    expect(api.seen[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('prints the raw list with -o json', async () => {
    const { context, globals, io } = exportContext(api.url, 'json');
    await listKeys(context, globals);
    expect(JSON.parse(io.out())).toEqual(LIST);
    expect(io.out().trimEnd().split('\n')).toHaveLength(1);
  });

  it('refuses a key whose PEM is not a plain public key (nothing printed)', async () => {
    api.route('GET /v1/keys', (_req, res) =>
      sendJson(res, 200, { keys: [{ ...CURRENT, publicKeyPem: '\u001b[2J-----BEGIN PUBLIC KEY-----' }] }),
    );
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(listKeys(context, globals));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe(
      'the API sent a key list the CLI cannot read (keys[0]: "publicKeyPem" is not a PEM public key)',
    );
    expect(io.out()).toBe('');
  });
});

describe('kt keys get', () => {
  it('prints the PEM on stdout without --output', async () => {
    const { context, globals, io } = exportContext(api.url);
    await getKey(context, globals, { id: RETIRED.keyId });
    expect(io.out()).toBe(RETIRED.publicKeyPem);
  });

  it('writes the PEM to --output and says so', async () => {
    const target = dir.path('key.pem');
    const { context, globals, io } = exportContext(api.url);
    await getKey(context, globals, { id: CURRENT.keyId, output: target });
    expect(readFileSync(target, 'utf8')).toBe(CURRENT.publicKeyPem);
    expect(io.out()).toBe(`✓ Saved public key ${CURRENT.keyId} to ${target}\n`);
  });

  it('never overwrites a file without --force, and asks the API nothing then', async () => {
    const target = dir.write('existing.pem', 'keep me');
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(getKey(context, globals, { id: CURRENT.keyId, output: target }));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`${target} already exists; pass --force to overwrite it`);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
    expect(api.seen).toHaveLength(0);
    expect(io.out()).toBe('');

    await getKey(context, globals, { id: CURRENT.keyId, output: target, force: true });
    expect(readFileSync(target, 'utf8')).toBe(CURRENT.publicKeyPem);
  });

  it('prints the key as the API lists it with -o json (and still writes --output)', async () => {
    const target = dir.path('json-key.pem');
    const { context, globals, io } = exportContext(api.url, 'json');
    await getKey(context, globals, { id: CURRENT.keyId, output: target });
    expect(JSON.parse(io.out())).toEqual(CURRENT);
    expect(readFileSync(target, 'utf8')).toBe(CURRENT.publicKeyPem);
  });

  it('fails with one line and exit 1 for an unknown key id, writing nothing', async () => {
    const target = dir.path('unknown.pem');
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(
      getKey(context, globals, { id: 'kt-local-0000000000000000', output: target }),
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe('key kt-local-0000000000000000 was not found (kt keys list shows the keys)');
    expect(() => readFileSync(target)).toThrow();
    expect(io.out()).toBe('');
  });

  it('refuses an empty --id as a usage error (exit 2) before any request', async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(getKey(context, globals, { id: '  ' }));
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeFor(error)).toBe(2);
    expect(api.seen).toHaveLength(0);
  });

  it('says which file could not be written', async () => {
    writeFileSync(dir.path('not-a-dir'), '');
    const target = dir.path('not-a-dir/key.pem');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(
      getKey(context, globals, { id: CURRENT.keyId, output: target, force: true }),
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error.message).toBe(`cannot write ${target}: ENOTDIR`);
  });
});
