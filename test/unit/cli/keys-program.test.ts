import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type RunResult, runKt } from '../../support/processes.ts';
import { type FakeApi, sendJson, startFakeApi, TOKEN } from './export-fixtures.ts';
import { tempDir } from './helpers.ts';

/** `kt keys` through the real executable: commander's parsing, the output and the exit codes. */

const CLEAN = { KEEPTRUSTS_API_URL: '', KEEPTRUSTS_API_TOKEN: '', KEEPTRUSTS_AUTH: '', KT_DEBUG: '' };
const KEY = {
  keyId: 'kt-local-3f9a0c1d2e4b5a69',
  algorithm: 'ECDSA_P256_SHA256',
  publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString(),
  current: true,
  createdAt: '2026-04-23T14:30:00.123Z',
};

let api: FakeApi;
const dir = tempDir();
beforeAll(async () => {
  api = await startFakeApi();
  api.route('GET /v1/keys', (_req, res) => sendJson(res, 200, { keys: [KEY] }));
});
afterAll(async () => {
  await api.close();
  dir.cleanup();
});

const kt = (args: readonly string[], withApi = true) =>
  runKt(
    args,
    { ...CLEAN, ...(withApi ? { KEEPTRUSTS_API_URL: api.url, KEEPTRUSTS_API_TOKEN: TOKEN } : {}) },
    60_000,
  );

function oneErrorLine(run: RunResult): string {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('kt keys', () => {
  it.concurrent('lists the keys as a table', async () => {
    const run = await kt(['keys', 'list']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'KEY ID                     ALGORITHM          CURRENT  CREATED',
        'kt-local-3f9a0c1d2e4b5a69  ECDSA_P256_SHA256  yes      2026-04-23T14:30:00Z',
        '',
      ].join('\n'),
    );
  });

  it.concurrent('writes a key with get --output, and refuses to overwrite it without --force', async () => {
    const target = dir.path('key.pem');
    const first = await kt(['keys', 'get', '--id', KEY.keyId, '--output', target]);
    expect(first.code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(KEY.publicKeyPem);
    const again = await kt(['keys', 'get', '--id', KEY.keyId, '--output', target]);
    expect(again.code).toBe(1);
    expect(oneErrorLine(again)).toBe(`error: ${target} already exists; pass --force to overwrite it`);
  });

  it.concurrent('answers an unknown key id with one line and exit 1', async () => {
    const run = await kt(['keys', 'get', '--id', 'kt-local-0000000000000000', '-o', 'json']);
    expect(run.code).toBe(1);
    expect(oneErrorLine(run)).toBe(
      'error: key kt-local-0000000000000000 was not found (kt keys list shows the keys)',
    );
    expect(run.stdout).toBe('');
  });

  it.concurrent('needs --id (usage error, exit 2, before any token is needed)', async () => {
    const run = await kt(['keys', 'get'], false);
    expect(run.code).toBe(2);
    expect(oneErrorLine(run)).toBe(
      "error: required option '--id <id>' not specified (see 'kt keys get --help')",
    );
  });
});
