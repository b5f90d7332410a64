import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { downloadArtifact } from '../../../cli/export/download.ts';
import { downloadExport } from '../../../cli/export/download-action.ts';
import { readDownloadLink } from '../../../cli/export/download-link.ts';
import { chooseTarget, safeFilename } from '../../../cli/export/target-path.ts';
import { exitCodeFor, NetworkError } from '../../../cli/errors.ts';
import {
  exportContext,
  type FakeApi,
  ID,
  manifestView,
  problem,
  sendJson,
  sha256,
  startFakeApi,
} from './export-fixtures.ts';
import { rejection, tempDir } from './helpers.ts';

/**
 * `kt export download` against a real loopback server that plays both the API (the download
 * descriptor) and the artifact store (the presigned URL), writing into a temporary directory.
 */

const ARTIFACT = `${JSON.stringify({ export: { id: ID }, events: Array.from({ length: 130 }, (_, i) => ({ id: `evt_${i}` })) })}\n`;
const ARTIFACT_PATH = `/store/${ID}.json`;
const SIGNED_QUERY = 'X-Amz-Signature=deadbeefsecret';

let api: FakeApi;
const dir = tempDir();
let workDir: string;
let run = 0;

beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(async () => {
  await api.close();
  dir.cleanup();
});
beforeEach(() => {
  api.reset();
  run += 1;
  workDir = dir.path(`run-${run}`);
  mkdirSync(workDir);
});

/**
 * The API's descriptor, the store's body and the export's manifest; `descriptor` overrides what
 * the API claims, and the manifest agrees with the descriptor unless `manifest` overrides it.
 */
function serve(
  body: string | Buffer,
  descriptor: Record<string, unknown> = {},
  manifest: Record<string, unknown> = {},
): void {
  const link = {
    url: `${api.url}${ARTIFACT_PATH}?${SIGNED_QUERY}`,
    expires: '2026-04-23T14:35:00Z',
    filename: 'exp-report.json',
    bytes: Buffer.byteLength(body),
    sha256: sha256(body),
    contentType: 'application/json',
    ...descriptor,
  };
  api.route(`GET /v1/exports/${ID}/download`, (_req, res) => sendJson(res, 200, link));
  api.route(`GET /v1/exports/${ID}/manifest`, (_req, res) =>
    sendJson(
      res,
      200,
      manifestView({ bytes: link.bytes as number, sha256: link.sha256 as string }, manifest),
    ),
  );
  api.route(`GET ${ARTIFACT_PATH}`, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
}

/** Files in the run's directory: a leftover `.part` would show up here. */
const filesIn = (path = workDir) => readdirSync(path).sort();

describe('kt export download', () => {
  it("--companion fetches a PDF export's companion CSV, verified, without a manifest of its own", async () => {
    serve(ARTIFACT, { filename: `${ID}.csv`, contentType: 'text/csv; charset=utf-8' });
    const target = join(workDir, 'records.csv');
    const { context, globals, io } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target, companion: true });
    expect(readFileSync(target, 'utf8')).toBe(ARTIFACT);
    expect(api.seen[0]?.url).toBe(`/v1/exports/${ID}/download?file=companion`);
    expect(api.seen.some((request) => request.url.endsWith('/manifest'))).toBe(false);
    expect(filesIn()).toEqual(['records.csv']);
    expect(io.out()).toBe(`✓ Downloaded ${ID} to ${target} (2.2 kB, SHA-256 verified)\n`);
  });

  it('writes the verified artifact and says so', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'compliance-report.json');
    const { context, globals, io } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target });
    expect(readFileSync(target, 'utf8')).toBe(ARTIFACT);
    expect(io.out()).toBe(
      `✓ Downloaded ${ID} to ${target} (2.2 kB, SHA-256 verified)\n` +
        `✓ Saved manifest to ${target}.manifest.json (verify both with: kt export verify --file ${target})\n`,
    );
    expect(filesIn()).toEqual(['compliance-report.json', 'compliance-report.json.manifest.json']);
    // Saved as Finalize stores it: the API's manifest, indented.
    const manifest = manifestView({ bytes: Buffer.byteLength(ARTIFACT), sha256: sha256(ARTIFACT) });
    expect(readFileSync(`${target}.manifest.json`, 'utf8')).toBe(`${JSON.stringify(manifest, null, 2)}\n`);
    // The presigned URL carries its own authorisation: the API token must not go to the store.
    const store = api.seen.find((r) => r.url.startsWith(ARTIFACT_PATH));
    expect(store?.url).toBe(`${ARTIFACT_PATH}?${SIGNED_QUERY}`);
    expect(store?.headers.authorization).toBeUndefined();
    expect(api.seen[0]?.headers.authorization).toMatch(/^Bearer /);
  });

  it('prints {id, path, bytes, sha256, manifest} with -o json', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    const { context, globals, io } = exportContext(api.url, 'json');
    await downloadExport(context, globals, { id: ID, output: target });
    expect(JSON.parse(io.out())).toEqual({
      id: ID,
      path: target,
      bytes: Buffer.byteLength(ARTIFACT),
      sha256: sha256(ARTIFACT),
      manifest: `${target}.manifest.json`,
    });
    expect(io.out().trimEnd().split('\n')).toHaveLength(1);
  });

  it('refuses to overwrite an existing file without --force, before asking the API', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    writeFileSync(target, 'keep me');
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`${target} already exists; pass --force to overwrite it`);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
    expect(api.seen).toHaveLength(0);
    expect(io.out()).toBe('');
    expect(filesIn()).toEqual(['report.json']);
  });

  it('overwrites with --force', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    writeFileSync(target, 'old evidence');
    writeFileSync(`${target}.manifest.json`, 'old manifest');
    const { context, globals } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target, force: true });
    expect(readFileSync(target, 'utf8')).toBe(ARTIFACT);
    expect(JSON.parse(readFileSync(`${target}.manifest.json`, 'utf8')).exportId).toBe(ID);
    expect(filesIn()).toEqual(['report.json', 'report.json.manifest.json']);
  });

  it('leaves no temporary file and the target untouched when the digest does not match', async () => {
    serve(ARTIFACT, { sha256: sha256('other bytes') });
    const target = join(workDir, 'report.json');
    writeFileSync(target, 'old evidence');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target, force: true }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(
      `the downloaded bytes do not match the export's SHA-256 (expected ${sha256('other bytes')}, got ${sha256(ARTIFACT)}); ${target} was not written`,
    );
    expect(readFileSync(target, 'utf8')).toBe('old evidence');
    expect(filesIn()).toEqual(['report.json']);

    const fresh = join(workDir, 'fresh.json');
    await rejection(downloadExport(context, globals, { id: ID, output: fresh }));
    expect(existsSync(fresh)).toBe(false);
    expect(filesIn()).toEqual(['report.json']);
  });

  it.each([
    [
      'short',
      ARTIFACT.length + 10,
      /^the artifact store sent 2,\d{3} of the export's 2,\d{3} bytes: the download is incomplete; .*report\.json was not written$/,
    ],
    [
      'long',
      100,
      /^the artifact store sent more than the export's 100 bytes; .*report\.json was not written$/,
    ],
  ])('refuses a %s body and keeps nothing', async (_kind, bytes, message) => {
    serve(ARTIFACT, { bytes });
    const target = join(workDir, 'report.json');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(error.message).toMatch(message);
    expect(filesIn()).toEqual([]);
  });

  it('names a missing output directory in one line', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'no-such-dir', 'report.json');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`cannot write ${target}: its directory does not exist`);
    expect(filesIn()).toEqual([]);
  });

  it('says why a job cannot be downloaded (409), in one line, writing nothing', async () => {
    api.route(`GET /v1/exports/${ID}/download`, (_req, res) =>
      problem(res, 409, {
        title: 'Conflict',
        detail: `Export ${ID} is running; download it once it has completed (kt export status --id ${ID}).`,
      }),
    );
    const target = join(workDir, 'report.json');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(
      `Export ${ID} is running; download it once it has completed (kt export status --id ${ID}).`,
    );
    expect(filesIn()).toEqual([]);
  });

  it('puts the file in a directory --output names, under a safe version of the API filename', async () => {
    serve(ARTIFACT, { filename: '../../.profile' });
    const { context, globals, io } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: workDir });
    expect(filesIn()).toEqual(['profile', 'profile.manifest.json']);
    expect(io.out()).toContain(`to ${join(workDir, 'profile')} (`);
  });

  it('names the store, not the signed URL, when the link has expired', async () => {
    serve(ARTIFACT);
    api.route(`GET ${ARTIFACT_PATH}`, (_req, res: ServerResponse) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code></Error>');
    });
    const { context, globals } = exportContext(api.url);
    const error = await rejection(
      downloadExport(context, globals, { id: ID, output: join(workDir, 'r.json') }),
    );
    expect(error.message).toBe(
      `the artifact store at ${api.url} answered 403 (the link may have expired; run the command again)`,
    );
    expect(error.message).not.toContain('Signature');
    expect(filesIn()).toEqual([]);
  });
});

describe('kt export download: the signed manifest beside the file', () => {
  it('skips the manifest with --no-manifest: not fetched, not written, not printed', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    const { context, globals, io } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target, manifest: false });
    expect(io.out()).toBe(`✓ Downloaded ${ID} to ${target} (2.2 kB, SHA-256 verified)\n`);
    expect(filesIn()).toEqual(['report.json']);
    expect(api.seen.some((r) => r.url.endsWith('/manifest'))).toBe(false);

    const json = exportContext(api.url, 'json');
    await downloadExport(json.context, json.globals, {
      id: ID,
      output: join(workDir, 'r2.json'),
      manifest: false,
    });
    expect(Object.keys(JSON.parse(json.io.out()))).toEqual(['id', 'path', 'bytes', 'sha256']);
  });

  it('refuses an existing manifest file without --force, before asking the API, writing nothing', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    writeFileSync(`${target}.manifest.json`, 'keep me');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(`${target}.manifest.json already exists; pass --force to overwrite it`);
    expect(api.seen).toHaveLength(0);
    expect(readFileSync(`${target}.manifest.json`, 'utf8')).toBe('keep me');
    expect(filesIn()).toEqual(['report.json.manifest.json']);
  });

  it('refuses an existing manifest beside the API filename in an --output directory', async () => {
    serve(ARTIFACT);
    writeFileSync(join(workDir, 'exp-report.json.manifest.json'), 'keep me');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: workDir }));
    expect(error.message).toBe(
      `${join(workDir, 'exp-report.json.manifest.json')} already exists; pass --force to overwrite it`,
    );
    expect(filesIn()).toEqual(['exp-report.json.manifest.json']);
  });

  it('saves nothing when the manifest describes other bytes than the artifact', async () => {
    serve(ARTIFACT, {}, { artifact: { name: `${ID}.json`, bytes: 99, sha256: sha256('other bytes') } });
    const target = join(workDir, 'report.json');
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(
      `the manifest of ${ID} does not match its artifact (manifest: 99 bytes, SHA-256 ${sha256('other bytes')}; ` +
        `artifact: ${Buffer.byteLength(ARTIFACT).toLocaleString('en-US')} bytes, SHA-256 ${sha256(ARTIFACT)}); nothing was written`,
    );
    expect(filesIn()).toEqual([]);
    expect(io.out()).toBe('');
    // Refused before a byte of the artifact was fetched.
    expect(api.seen.some((r) => r.url.startsWith(ARTIFACT_PATH))).toBe(false);
  });

  it('saves nothing when the manifest is not a valid manifest, naming what is wrong', async () => {
    serve(ARTIFACT, {}, { schema: 'something/2', keyId: undefined });
    const target = join(workDir, 'report.json');
    const { context, globals } = exportContext(api.url);
    const error = await rejection(downloadExport(context, globals, { id: ID, output: target }));
    expect(error.message).toBe(
      `the API sent a manifest for ${ID} that is not valid ("schema" must be "keeptrusts.export-manifest/1"; "keyId" is missing); nothing was written`,
    );
    expect(filesIn()).toEqual([]);
  });

  it('saves nothing when the export has no manifest, pointing at --no-manifest', async () => {
    serve(ARTIFACT);
    api.route(`GET /v1/exports/${ID}/manifest`, (_req, res) =>
      problem(res, 409, {
        title: 'Conflict',
        detail: `Export ${ID} is completed; only a completed export has a manifest.`,
      }),
    );
    const { context, globals } = exportContext(api.url);
    const error = await rejection(
      downloadExport(context, globals, { id: ID, output: join(workDir, 'r.json') }),
    );
    expect(exitCodeFor(error)).toBe(1);
    expect(error.message).toBe(
      `cannot get the manifest of ${ID} (Export ${ID} is completed; only a completed export has a manifest.); ` +
        'nothing was written. Pass --no-manifest to download the file without it',
    );
    expect(filesIn()).toEqual([]);
  });

  it('saves nothing when the API sends another export’s manifest', async () => {
    serve(ARTIFACT, {}, { exportId: 'exp_01jq8m3k7b5x9c2d4f6j' });
    const { context, globals } = exportContext(api.url);
    const error = await rejection(
      downloadExport(context, globals, { id: ID, output: join(workDir, 'r.json') }),
    );
    expect(error.message).toBe(
      `the API sent the manifest of exp_01jq8m3k7b5x9c2d4f6j for ${ID}; nothing was written`,
    );
    expect(filesIn()).toEqual([]);
  });
});

describe('downloadArtifact', () => {
  it('gives up on a stalled body and removes the partial file', async () => {
    api.route(`GET ${ARTIFACT_PATH}`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(ARTIFACT.slice(0, 100)); // ... and nothing more
    });
    const link = readDownloadLink(
      { url: ARTIFACT_PATH, filename: 'r.json', bytes: ARTIFACT.length, sha256: sha256(ARTIFACT) },
      api.url,
    );
    const target = join(workDir, 'r.json');
    const error = await rejection(downloadArtifact(link, target, { overwrite: false, stallMs: 150 }));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe(
      `the download from ${api.url} stalled (no data for 150 ms); ${target} was not written`,
    );
    expect(filesIn()).toEqual([]);
  });

  it('stops and cleans up when cancelled', async () => {
    const cancel = new AbortController();
    api.route(`GET ${ARTIFACT_PATH}`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(ARTIFACT.slice(0, 100), () => setTimeout(() => cancel.abort(), 20));
    });
    const link = readDownloadLink(
      {
        url: `${api.url}${ARTIFACT_PATH}`,
        filename: 'r.json',
        bytes: ARTIFACT.length,
        sha256: sha256(ARTIFACT),
      },
      api.url,
    );
    const target = join(workDir, 'r.json');
    const error = await rejection(
      downloadArtifact(link, target, { overwrite: false, signal: cancel.signal }),
    );
    expect(error.message).toBe(`the download was cancelled; ${target} was not written`);
    expect(filesIn()).toEqual([]);
  });
});

describe('download target and descriptor', () => {
  it('reduces API filenames to plain names', () => {
    expect(safeFilename('exp_x.json', ID)).toBe('exp_x.json');
    expect(safeFilename('/etc/passwd', ID)).toBe('passwd');
    expect(safeFilename('..\\..\\win.ini', ID)).toBe('win.ini');
    expect(safeFilename('..', ID)).toBe(`${ID}.export`);
    expect(safeFilename('', ID)).toBe(`${ID}.export`);
  });

  it('defaults to the API filename in the current directory', async () => {
    expect(await chooseTarget(undefined, 'exp_x.csv', ID)).toBe('exp_x.csv');
    expect(await chooseTarget('out.csv', 'exp_x.csv', ID)).toBe('out.csv');
  });

  it('refuses descriptors it cannot verify against', () => {
    const ok = { url: '/x', filename: 'f', bytes: 1, sha256: 'A'.repeat(64) };
    expect(readDownloadLink(ok, 'http://api.test').url).toBe('http://api.test/x');
    expect(readDownloadLink(ok, 'http://api.test').sha256).toBe('a'.repeat(64));
    expect(() => readDownloadLink({ ...ok, sha256: '' }, 'http://api.test')).toThrow('"sha256"');
    expect(() => readDownloadLink({ ...ok, bytes: -1 }, 'http://api.test')).toThrow('"bytes"');
    expect(() => readDownloadLink({ ...ok, url: 'file:///etc/passwd' }, 'http://api.test')).toThrow('"url"');
  });
});
