import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type EvidenceFiles, procedureBlocks, runProcedure } from '../support/doc-procedure.ts';
import { ROOT, runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * Issue 9's "done when", with the real `kt` binary and `npm start` on a fresh data dir: the sample
 * imported, a JSON and a CSV export of the tutorial's week downloaded with their manifests, the
 * public key saved; then, with the stack STOPPED, `kt export verify --public-key` passes both, and
 * docs/verifying-evidence.md's procedure (openssl, sha256sum, jq, python3) passes them too.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
const FROM = '2026-04-16T00:00:00Z';
const TO = '2026-04-23T23:59:59Z';
// Empty values count as unset: offline runs have no API and no token at all.
const NO_API = { KEEPTRUSTS_API_URL: '', KEEPTRUSTS_API_TOKEN: '', KEEPTRUSTS_AUTH: '', KT_DEBUG: '' };

const expectedRecords = readFileSync(path.join(ROOT, SAMPLE), 'utf8')
  .trim()
  .split('\n')
  .map((line) => (JSON.parse(line) as { timestamp: string }).timestamp)
  .filter((t) => Date.parse(t) >= Date.parse(FROM) && Date.parse(t) <= Date.parse(TO)).length;

interface Manifest {
  exportId: string;
  keyId: string;
  records: number;
  recordsDigest: { algorithm: string; sha256: string };
  auditHead: { seq: number; hash: string };
}

describe('verifying downloaded evidence, online and with the stack stopped', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;
  const file = (name: string) => path.join(root, name);
  const manifestOf = (name: string) =>
    JSON.parse(readFileSync(file(`${name}.manifest.json`), 'utf8')) as Manifest;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-verify-'));
    stack = await startFreshStack(root);
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token };
    kt = (args) => runKt(args, env);
    expect((await kt(['events', 'import', '--file', SAMPLE])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Creates an export of the week, waits for it, downloads it (manifest beside it). */
  async function exportAndDownload(format: 'json' | 'csv', name: string): Promise<string> {
    const created = await kt([
      'export',
      'create',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      format,
      '-o',
      'json',
    ]);
    expect(created.code).toBe(0);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    for (let attempt = 0; ; attempt++) {
      const status = JSON.parse((await kt(['export', 'status', '--id', id, '-o', 'json'])).stdout);
      if (status.status === 'completed') break;
      expect(['queued', 'running']).toContain(status.status);
      expect(attempt).toBeLessThan(240);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const download = await kt(['export', 'download', '--id', id, '--output', file(name)]);
    expect(download.stderr).toBe('');
    expect(download.code).toBe(0);
    expect(download.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^✓ Downloaded ${id} to .*${name} \\(.*, SHA-256 verified\\)$`)),
      `✓ Saved manifest to ${file(name)}.manifest.json (verify both with: kt export verify --file ${file(name)})`,
    ]);
    return id;
  }

  test('JSON and CSV exports of the same week download with manifests sharing one records digest', async () => {
    const jsonId = await exportAndDownload('json', 'compliance-report.json');
    const csvId = await exportAndDownload('csv', 'compliance-report.csv');
    const json = manifestOf('compliance-report.json');
    const csv = manifestOf('compliance-report.csv');
    expect(json.exportId).toBe(jsonId);
    expect(csv.exportId).toBe(csvId);
    expect(json.records).toBe(expectedRecords);
    expect(csv.records).toBe(expectedRecords);
    expect(json.recordsDigest).toEqual(csv.recordsDigest);
    expect(json.keyId).toBe(csv.keyId);

    const key = await kt(['keys', 'get', '--id', json.keyId, '--output', file('key.pem')]);
    expect(key.code).toBe(0);
    expect(readFileSync(file('key.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  }, 180_000);

  test('kt export verify passes both against the running stack, fetching the key', async () => {
    for (const name of ['compliance-report.json', 'compliance-report.csv']) {
      const result = await kt(['export', 'verify', '--file', file(name)]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      const format = name.endsWith('.json') ? 'json' : 'csv';
      expect(lines[0]).toBe(
        `Verifying ${manifestOf(name).exportId} (${format}, ${expectedRecords.toLocaleString('en-US')} records)`,
      );
      expect(lines.slice(1, -1).every((line) => line.startsWith('✓ '))).toBe(true);
      expect(lines.at(-1)).toBe('✓ Evidence verified');
    }
  });

  test("the manifest's audit head is the trail's entry of that seq", async () => {
    const { auditHead } = manifestOf('compliance-report.json');
    const seq = String(auditHead.seq);
    const result = await kt(['audit', 'list', '--from-seq', seq, '--to-seq', seq, '-o', 'json']);
    expect(result.code).toBe(0);
    const { entries } = JSON.parse(result.stdout) as { entries: { seq: number; hash: string }[] };
    expect(entries).toEqual([expect.objectContaining({ seq: auditHead.seq, hash: auditHead.hash })]);
  });

  const blocks = procedureBlocks();
  const procedureFor = (name: string, overrides: Partial<EvidenceFiles> = {}): EvidenceFiles => ({
    cwd: root,
    file: file(name),
    manifest: file(`${name}.manifest.json`),
    key: file('key.pem'),
    ...overrides,
  });

  test('with the stack stopped, kt export verify --public-key passes both, with no API and no token', async () => {
    expect(await stack.stop()).toBe(0);
    for (const name of ['compliance-report.json', 'compliance-report.csv']) {
      const offline = await runKt(
        ['export', 'verify', '--file', file(name), '--public-key', file('key.pem')],
        NO_API,
      );
      expect(offline.stderr).toBe('');
      expect(offline.code).toBe(0);
      expect(offline.stdout.trimEnd().split('\n').at(-1)).toBe('✓ Evidence verified');
    }
    // The same, with the stopped stack's URL and token set: nothing is asked of it.
    const env = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token };
    const json = await runKt(
      [
        'export',
        'verify',
        '--file',
        file('compliance-report.json'),
        '--public-key',
        file('key.pem'),
        '-o',
        'json',
      ],
      env,
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ verified: true });
  });

  test("the document's procedure passes the real downloads, and fails a tampered copy", async () => {
    const script = blocks.join('\n');
    for (const name of ['compliance-report.json', 'compliance-report.csv']) {
      const result = await runProcedure(script, procedureFor(name));
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Verified OK');
      expect(result.stdout).toContain(`records digest OK: ${manifestOf(name).recordsDigest.sha256}`);
    }

    // A copy with one record's model changed, under the original's manifest.
    copyFileSync(file('compliance-report.csv.manifest.json'), file('tampered.csv.manifest.json'));
    const rows = readFileSync(file('compliance-report.csv'), 'utf8').split('\n');
    const cells = rows[5]!.split(',');
    cells[2] = cells[2] === 'gpt-4o' ? 'gpt-4o-mini' : 'gpt-4o';
    rows[5] = cells.join(',');
    writeFileSync(file('tampered.csv'), rows.join('\n'));
    const tampered = await runProcedure(script, procedureFor('tampered.csv'));
    expect(tampered.code).not.toBe(0);
    expect(tampered.stderr + tampered.stdout).toMatch(/size MISMATCH|FAILED/);
    const records = await runProcedure(blocks[2]!, procedureFor('tampered.csv'));
    expect(records.code).not.toBe(0);
    expect(records.stderr).toContain('AssertionError: records digest is');

    const verify = await runKt(
      ['export', 'verify', '--file', file('tampered.csv'), '--public-key', file('key.pem')],
      NO_API,
    );
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/✗ SHA-256: expected [0-9a-f]{64}, got [0-9a-f]{64}\n/);
    expect(verify.stdout).toMatch(/✗ Records digest: expected [0-9a-f]{64}, got [0-9a-f]{64}\n/);
    expect(verify.stdout).toMatch(/✗ Evidence NOT verified: [23] checks failed\n$/);
  });
});
