import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { CliContext, GlobalOptions } from '../../../cli/context.ts';
import { exitCodeFor } from '../../../cli/errors.ts';
import { verifyEvidence } from '../../../cli/export/verify-action.ts';
import type { DecisionEvent } from '../../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../../functions/core/events/demo-events.ts';
import { manifestText, signManifest } from '../../../functions/core/evidence/manifest.ts';
import { awkwardEvents, type EvidencePair, testKey, writeEvidence } from '../../support/evidence-files.ts';
import { runKt } from '../../support/processes.ts';
import { type FakeApi, sendJson, startFakeApi, TOKEN } from './export-fixtures.ts';
import { memoryIo, rejection, tempDir } from './helpers.ts';

/**
 * `kt export verify` on evidence files written by the real encoders and signed by a test key:
 * every check passes on untouched files, and each kind of tampering fails the checks that name it.
 */

const ID = 'exp_01jq8m3k7b5x9c2d4f6h';
const OTHER_ID = 'exp_01jq8m3k7b5x9c2d4f6j';
const KEY = testKey('kt-local-0123456789abcdef');
const OTHER_KEY = testKey('kt-local-fedcba9876543210');

const dir = tempDir();
const keyFile = dir.write('key.pem', KEY.publicKeyPem);
// Enough events for files of several MB, so the streaming readers cross many chunks.
const events: DecisionEvent[] = [
  ...awkwardEvents(),
  ...generateDemoEvents({
    count: 20_000,
    from: new Date('2026-04-16T00:00:02Z'),
    to: new Date('2026-04-23T23:59:59Z'),
    seed: 'verify',
  }),
];
let json: EvidencePair;
let csv: EvidencePair;

beforeAll(async () => {
  json = await writeEvidence(dir.path('.'), 'report.json', events, { id: ID, format: 'json', key: KEY });
  csv = await writeEvidence(dir.path('.'), 'report.csv', events, { id: ID, format: 'csv', key: KEY });
});
afterAll(() => dir.cleanup());

/** A context with no token and a fetch that fails the test: offline means offline. */
function offline(outputFormat: 'human' | 'json' = 'human') {
  const io = memoryIo({});
  const context: CliContext = {
    io,
    version: 'test',
    secrets: new Set(),
    http: {
      fetch: () => {
        throw new Error('kt export verify --public-key must not use the network');
      },
    },
  };
  const globals: GlobalOptions = { outputFormat };
  return { io, context, globals };
}

async function verifyOffline(
  flags: { file: string; manifest?: string },
  outputFormat: 'human' | 'json' = 'human',
) {
  const { io, context, globals } = offline(outputFormat);
  let error: Error | undefined;
  try {
    await verifyEvidence(context, globals, { ...flags, publicKey: keyFile });
  } catch (caught) {
    error = caught as Error;
  }
  return { error, out: io.out(), lines: io.out().trimEnd().split('\n') };
}

/** The names of the failed checks, from -o json. */
async function failedChecks(flags: { file: string; manifest?: string }): Promise<string[]> {
  const { error, out } = await verifyOffline(flags, 'json');
  expect(error).toBeDefined();
  expect(exitCodeFor(error)).toBe(1);
  const report = JSON.parse(out) as { verified: boolean; checks: { name: string; ok: boolean }[] };
  expect(report.verified).toBe(false);
  return report.checks.filter((check) => !check.ok).map((check) => check.name);
}

/** A copy of an evidence pair under a new name, with the artifact's bytes changed by `edit`. */
function tampered(
  pair: EvidencePair,
  name: string,
  edit: (bytes: Buffer) => Buffer,
): { file: string; manifest: string } {
  const file = dir.write(name, '');
  writeFileSync(file, edit(Buffer.from(pair.bytes)));
  return { file, manifest: pair.manifestPath };
}

describe('kt export verify on untouched evidence', () => {
  it('passes every check of a JSON export, offline, one line each', async () => {
    expect(statSync(json.artifact).size).toBeGreaterThan(4_000_000);
    const { error, lines } = await verifyOffline({ file: json.artifact });
    expect(error).toBeUndefined();
    const m = json.manifest;
    expect(lines).toEqual([
      `Verifying ${ID} (json, ${events.length.toLocaleString('en-US')} records)`,
      '✓ Manifest: keeptrusts.export-manifest/1, every field present',
      `✓ Signature: valid, signed by ${KEY.keyId} (ECDSA_P256_SHA256)`,
      `✓ Size: ${m.artifact.bytes.toLocaleString('en-US')} bytes`,
      `✓ SHA-256: ${m.artifact.sha256}`,
      '✓ Format: the file parses as json',
      `✓ Records digest: ${m.recordsDigest.sha256}`,
      `✓ Records: ${events.length.toLocaleString('en-US')}`,
      `✓ Export id: ${ID}`,
      '✓ Evidence verified',
    ]);
  });

  it('passes a CSV export, which shares the JSON export’s records digest', async () => {
    const { error, lines } = await verifyOffline({ file: csv.artifact });
    expect(error).toBeUndefined();
    expect(lines[0]).toBe(`Verifying ${ID} (csv, ${events.length.toLocaleString('en-US')} records)`);
    expect(lines).toContain(`✓ Records digest: ${json.manifest.recordsDigest.sha256}`);
    expect(lines.some((line) => line.startsWith('✓ Export id'))).toBe(false);
    expect(lines.at(-1)).toBe('✓ Evidence verified');
    expect(csv.manifest.recordsDigest).toEqual(json.manifest.recordsDigest);
  });

  it('prints {verified, checks} with -o json', async () => {
    const { error, out } = await verifyOffline({ file: csv.artifact }, 'json');
    expect(error).toBeUndefined();
    const report = JSON.parse(out);
    expect(report.verified).toBe(true);
    expect(report.checks.map((check: { name: string }) => check.name)).toEqual([
      'manifest',
      'signature',
      'size',
      'sha256',
      'format',
      'recordsDigest',
      'records',
    ]);
    expect(report.checks.every((check: { ok: boolean }) => check.ok)).toBe(true);
    expect(report.checks[3]).toEqual({
      name: 'sha256',
      ok: true,
      expected: csv.manifest.artifact.sha256,
      actual: csv.manifest.artifact.sha256,
    });
    expect(out.trimEnd().split('\n')).toHaveLength(1);
  });

  it('shows a progress bar while it reads records on a terminal, and only there', async () => {
    const io = memoryIo({}, true);
    const context: CliContext = { io, version: 'test', secrets: new Set() };
    await verifyEvidence(context, { outputFormat: 'human' }, { file: json.artifact, publicKey: keyFile });
    expect(io.err()).toContain('Reading records');
    expect(io.out().trimEnd().split('\n').at(-1)).toBe('✓ Evidence verified');
    // Not a terminal (every other test here): stderr stays empty.
    const quiet = offline();
    await verifyEvidence(quiet.context, quiet.globals, { file: csv.artifact, publicKey: keyFile });
    expect(quiet.io.err()).toBe('');
  });

  it('verifies an export of no records', async () => {
    for (const format of ['json', 'csv'] as const) {
      const empty = await writeEvidence(dir.path('.'), `empty.${format}`, [], { id: ID, format, key: KEY });
      const { error, lines } = await verifyOffline({ file: empty.artifact });
      expect(error).toBeUndefined();
      expect(lines[0]).toBe(`Verifying ${ID} (${format}, 0 records)`);
      expect(lines.at(-1)).toBe('✓ Evidence verified');
    }
  });
});

describe('kt export verify on tampered evidence', () => {
  it('one flipped byte: the SHA-256 and the records digest', async () => {
    const at = json.bytes.indexOf('"model":"gpt-4o-mini"', 2000) + 10;
    const copy = tampered(json, 'flipped.json', (bytes) => {
      bytes[at] = bytes[at]! ^ 0x01;
      return bytes;
    });
    expect(await failedChecks(copy)).toEqual(['sha256', 'recordsDigest']);

    const { lines } = await verifyOffline(copy);
    const actual = readFileSync(copy.file);
    expect(lines).toContain(
      `✗ SHA-256: expected ${json.manifest.artifact.sha256}, got ${createHash('sha256').update(actual).digest('hex')}`,
    );
    expect(lines.at(-1)).toBe('✗ Evidence NOT verified: 2 checks failed');
  });

  it('a removed CSV row: size, SHA-256, records digest and count', async () => {
    const copy = tampered(csv, 'removed.csv', (bytes) => {
      const text = bytes.toString('utf8').split('\n');
      text.splice(100, 1);
      return Buffer.from(text.join('\n'));
    });
    expect(await failedChecks(copy)).toEqual(['size', 'sha256', 'recordsDigest', 'records']);
    const { lines, error } = await verifyOffline(copy);
    expect(exitCodeFor(error)).toBe(1);
    expect(error?.message).toBe(`${copy.file} is not verified evidence: 4 checks failed`);
    expect(lines).toContain(
      `✗ Records: expected ${events.length.toLocaleString('en-US')}, got ${(events.length - 1).toLocaleString('en-US')}`,
    );
  });

  it('two JSON events swapped: the SHA-256 and the records digest, not the size or count', async () => {
    const copy = tampered(json, 'swapped.json', (bytes) => {
      const lines = bytes.toString('utf8').split('\n');
      [lines[10], lines[11]] = [lines[11]!, lines[10]!];
      return Buffer.from(lines.join('\n'));
    });
    expect(await failedChecks(copy)).toEqual(['sha256', 'recordsDigest']);
  });

  it('an edited manifest field: the signature', async () => {
    const manifest = dir.write(
      'edited.manifest.json',
      manifestText({ ...json.manifest, generatedAt: '2026-04-25T00:00:00Z' }),
    );
    expect(await failedChecks({ file: json.artifact, manifest })).toEqual(['signature']);
    const { lines } = await verifyOffline({ file: json.artifact, manifest });
    expect(lines).toContain(
      `✗ Signature: does not verify with key ${KEY.keyId} (the manifest was altered, or another key signed it)`,
    );
  });

  it('a manifest signed by another key: the signature', async () => {
    const { signature: _s, keyId: _k, algorithm: _a, ...unsigned } = json.manifest;
    const resigned = await signManifest(OTHER_KEY.signer, unsigned);
    const manifest = dir.write('other-key.manifest.json', manifestText(resigned));
    expect(await failedChecks({ file: json.artifact, manifest })).toEqual(['signature']);
  });

  it('the manifest of another export: size, SHA-256, records digest, count and export id', async () => {
    const other = await writeEvidence(dir.path('.'), 'other.json', events.slice(0, 50), {
      id: OTHER_ID,
      format: 'json',
      key: KEY,
    });
    expect(await failedChecks({ file: json.artifact, manifest: other.manifestPath })).toEqual([
      'size',
      'sha256',
      'recordsDigest',
      'records',
      'exportId',
    ]);
    const { lines } = await verifyOffline({ file: json.artifact, manifest: other.manifestPath });
    expect(lines).toContain(`✗ Export id: expected ${OTHER_ID}, got ${ID}`);
  });

  it('a CSV that no longer parses: the format, and the record checks not computed', async () => {
    const copy = tampered(csv, 'broken.csv', (bytes) => {
      const text = bytes.toString('utf8').split('\n');
      text[3] = `${text[3]}"oops`;
      return Buffer.from(text.join('\n'));
    });
    const { lines } = await verifyOffline(copy);
    expect(lines).toContain(
      '✗ Format: not a valid csv export: line 4: a quote inside a cell that is not quoted',
    );
    expect(lines).toContain(
      `✗ Records digest: expected ${csv.manifest.recordsDigest.sha256}, got not computed: the file does not parse`,
    );
  });

  it('a manifest missing a field: names it and checks nothing else', async () => {
    const { artifact: _artifact, ...rest } = JSON.parse(readFileSync(json.manifestPath, 'utf8'));
    const manifest = dir.write('missing.manifest.json', JSON.stringify({ ...rest, records: '12' }));
    const { lines, error } = await verifyOffline({ file: json.artifact, manifest });
    expect(exitCodeFor(error)).toBe(1);
    expect(lines).toEqual([
      `Verifying ${json.artifact}`,
      '✗ Manifest: not a valid manifest: "records" is not a whole number ≥ 0; "artifact" is missing',
      '✗ Evidence NOT verified: 1 check failed',
    ]);
  });
});

describe('kt export verify: files and keys', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi();
  });
  afterAll(() => api.close());
  beforeEach(() => api.reset());

  const online = () => {
    const io = memoryIo({});
    const context: CliContext = {
      io,
      version: 'test',
      secrets: new Set([TOKEN]),
      http: { retry: { attempts: 1 }, sleep: async () => undefined },
    };
    return { io, context, globals: { apiUrl: api.url, token: TOKEN, outputFormat: 'human' as const } };
  };

  it('without --public-key, checks the signature with the key GET /v1/keys lists under the manifest keyId', async () => {
    api.route('GET /v1/keys', (_req, res) =>
      sendJson(res, 200, {
        keys: [
          {
            keyId: OTHER_KEY.keyId,
            algorithm: 'ECDSA_P256_SHA256',
            publicKeyPem: OTHER_KEY.publicKeyPem,
            current: true,
          },
          {
            keyId: KEY.keyId,
            algorithm: 'ECDSA_P256_SHA256',
            publicKeyPem: KEY.publicKeyPem,
            current: false,
          },
        ],
      }),
    );
    const { io, context, globals } = online();
    await verifyEvidence(context, globals, { file: csv.artifact });
    expect(io.out()).toContain(`✓ Signature: valid, signed by ${KEY.keyId} (ECDSA_P256_SHA256)\n`);
    expect(api.seen.map((r) => r.url)).toEqual(['/v1/keys']);
  });

  it('fails the signature when the API does not list the key', async () => {
    api.route('GET /v1/keys', (_req, res) =>
      sendJson(res, 200, {
        keys: [
          {
            keyId: OTHER_KEY.keyId,
            algorithm: 'ECDSA_P256_SHA256',
            publicKeyPem: OTHER_KEY.publicKeyPem,
            current: true,
          },
        ],
      }),
    );
    const { io, context, globals } = online();
    const error = await rejection(verifyEvidence(context, globals, { file: csv.artifact }));
    expect(exitCodeFor(error)).toBe(1);
    expect(io.out()).toContain(
      `✗ Signature: key ${KEY.keyId} is not among the API's signing keys (kt keys list)\n`,
    );
  });

  it('names a missing manifest and says where it comes from', async () => {
    const file = dir.write('lonely.json', '{}');
    const { context, globals } = offline();
    const error = await rejection(verifyEvidence(context, globals, { file, publicKey: keyFile }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(
      `cannot read ${file}.manifest.json: no such file (kt export download saves it beside the file; or pass --manifest)`,
    );
  });

  it('refuses a --public-key that is not a PEM public key', async () => {
    const bad = dir.write('bad.pem', 'not a key');
    const { context, globals } = offline();
    const error = await rejection(verifyEvidence(context, globals, { file: json.artifact, publicKey: bad }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toMatch(/bad\.pem is not a PEM public key/);
  });
});

describe('kt export verify through the real kt binary', () => {
  // Empty values count as unset: no API URL, no token, so any request would fail the run.
  const CLEAN = { KEEPTRUSTS_API_URL: '', KEEPTRUSTS_API_TOKEN: '', KEEPTRUSTS_AUTH: '', KT_DEBUG: '' };

  it('verifies offline with no token at all, exit 0', async () => {
    const run = await runKt(['export', 'verify', '--file', csv.artifact, '--public-key', keyFile], CLEAN);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('✓ Evidence verified');
  });

  it('exits 1 with the verdict on stdout and one error line when a check fails', async () => {
    const copy = tampered(csv, 'cli-removed.csv', (bytes) => bytes.subarray(0, bytes.length - 40));
    const run = await runKt(
      ['export', 'verify', '--file', copy.file, '--manifest', copy.manifest, '--public-key', keyFile],
      CLEAN,
    );
    expect(run.code).toBe(1);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(/^✗ Evidence NOT verified: \d checks failed$/);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^error: .* is not verified evidence: \d checks failed$/),
    ]);
  });
});
