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

/** The API's descriptor and the store's body; `descriptor` overrides what the API claims. */
function serve(body: string | Buffer, descriptor: Record<string, unknown> = {}): void {
  api.route(`GET /v1/exports/${ID}/download`, (_req, res) =>
    sendJson(res, 200, {
      url: `${api.url}${ARTIFACT_PATH}?${SIGNED_QUERY}`,
      expires: '2026-04-23T14:35:00Z',
      filename: 'exp-report.json',
      bytes: Buffer.byteLength(body),
      sha256: sha256(body),
      contentType: 'application/json',
      ...descriptor,
    }),
  );
  api.route(`GET ${ARTIFACT_PATH}`, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
}

/** Files in the run's directory: a leftover `.part` would show up here. */
const filesIn = (path = workDir) => readdirSync(path).sort();

describe('kt export download', () => {
  it('writes the verified artifact and says so', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'compliance-report.json');
    const { context, globals, io } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target });
    expect(readFileSync(target, 'utf8')).toBe(ARTIFACT);
    expect(io.out()).toBe(`✓ Downloaded ${ID} to ${target} (2.2 kB, SHA-256 verified)\n`);
    expect(filesIn()).toEqual(['compliance-report.json']);
    // The presigned URL carries its own authorisation: the API token must not go to the store.
    const store = api.seen.find((r) => r.url.startsWith(ARTIFACT_PATH));
    expect(store?.url).toBe(`${ARTIFACT_PATH}?${SIGNED_QUERY}`);
    expect(store?.headers.authorization).toBeUndefined();
    expect(api.seen[0]?.headers.authorization).toMatch(/^Bearer /);
  });

  it('prints {id, path, bytes, sha256} with -o json', async () => {
    serve(ARTIFACT);
    const target = join(workDir, 'report.json');
    const { context, globals, io } = exportContext(api.url, 'json');
    await downloadExport(context, globals, { id: ID, output: target });
    expect(JSON.parse(io.out())).toEqual({
      id: ID,
      path: target,
      bytes: Buffer.byteLength(ARTIFACT),
      sha256: sha256(ARTIFACT),
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
    const { context, globals } = exportContext(api.url);
    await downloadExport(context, globals, { id: ID, output: target, force: true });
    expect(readFileSync(target, 'utf8')).toBe(ARTIFACT);
    expect(filesIn()).toEqual(['report.json']);
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
    expect(filesIn()).toEqual(['profile']);
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
