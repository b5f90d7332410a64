import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DecisionEvent } from '../../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import { manifestText } from '../../functions/core/evidence/manifest.ts';
import { type EvidenceFiles, procedureBlocks, runProcedure } from '../support/doc-procedure.ts';
import { awkwardEvents, type EvidencePair, testKey, writeEvidence } from '../support/evidence-files.ts';

/**
 * docs/verifying-evidence.md's procedure (bash, jq, sha256sum, openssl, python3; nothing of ours)
 * on evidence written by the real encoders and signed by a test key, with every awkward value the
 * records digest has a rule for: formula-like cells, quotes, non-ASCII text, tiny fractions,
 * extra fields. It must pass untouched files and fail, at the step that checks it, each tampering.
 * test/e2e/verify-evidence.test.ts runs it on real downloads from the local stack.
 */

const ID = 'exp_01jq8m3k7b5x9c2d4f6h';
const KEY = testKey('kt-local-0123456789abcdef');
const blocks = procedureBlocks();
const [sizeAndSha, signature, records] = blocks as [string, string, string];

let dir: string;
let keyFile: string;
let json: EvidencePair;
let csv: EvidencePair;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kt-verify-doc-'));
  keyFile = path.join(dir, 'key.pem');
  writeFileSync(keyFile, KEY.publicKeyPem);
  const events: DecisionEvent[] = [
    ...awkwardEvents(),
    ...generateDemoEvents({
      count: 2_000,
      from: new Date('2026-04-16T00:00:02Z'),
      to: new Date('2026-04-23T23:59:59Z'),
      seed: 'doc',
    }),
  ];
  json = await writeEvidence(dir, 'compliance-report.json', events, { id: ID, format: 'json', key: KEY });
  csv = await writeEvidence(dir, 'pii-audit.csv', events, { id: ID, format: 'csv', key: KEY });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const filesOf = (pair: EvidencePair, overrides: Partial<EvidenceFiles> = {}): EvidenceFiles => ({
  cwd: dir,
  file: pair.artifact,
  manifest: pair.manifestPath,
  key: keyFile,
  ...overrides,
});

/** A copy of the artifact with its bytes changed. */
function tamperedFile(pair: EvidencePair, name: string, edit: (text: string) => string): string {
  const file = path.join(dir, name);
  writeFileSync(file, edit(pair.bytes.toString('utf8')));
  return file;
}

test('the document marks the three offline steps', () => {
  expect(blocks).toHaveLength(3);
  expect(sizeAndSha).toContain('sha256sum --check');
  expect(signature).toContain('openssl dgst -sha256 -verify "$KEY" -signature signature.der signed.json');
  expect(records).toContain('recordsDigest');
});

test.each(['json', 'csv'])('the whole procedure passes an untouched %s export', async (format) => {
  const pair = format === 'json' ? json : csv;
  const result = await runProcedure(blocks.join('\n'), filesOf(pair));
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`size OK: ${pair.bytes.length} bytes`);
  expect(result.stdout).toContain(`${pair.artifact}: OK`);
  expect(result.stdout).toContain('Verified OK');
  expect(result.stdout).toContain(`records OK: ${pair.manifest.records}`);
  expect(result.stdout).toContain(`records digest OK: ${pair.manifest.recordsDigest.sha256}`);
  if (format === 'json') expect(result.stdout).toContain(`export id OK: ${ID}`);
});

test("step 4 reads a PDF report's companion CSV with the report's manifest", async () => {
  const manifest = path.join(dir, 'report.pdf.manifest.json');
  writeFileSync(manifest, manifestText({ ...csv.manifest, format: 'pdf' }));
  const result = await runProcedure(records, filesOf(csv, { manifest }));
  expect(result.stderr).toBe('');
  expect(result.stdout).toContain(`records digest OK: ${csv.manifest.recordsDigest.sha256}`);
  expect(result.code).toBe(0);
});

test('one flipped byte fails the SHA-256 and the records digest', async () => {
  const file = tamperedFile(json, 'flipped.json', (text) =>
    text.replace('"model":"gpt-4o"', '"model":"gpt-4p"'),
  );
  const sha = await runProcedure(sizeAndSha, filesOf(json, { file }));
  expect(sha.code).not.toBe(0);
  expect(sha.stdout).toContain(`${file}: FAILED`);
  const digest = await runProcedure(records, filesOf(json, { file }));
  expect(digest.code).not.toBe(0);
  expect(digest.stderr).toMatch(/AssertionError: records digest is [0-9a-f]{64}, the manifest says/);
});

test('a removed CSV row fails the size, the SHA-256, the count', async () => {
  const file = tamperedFile(csv, 'removed.csv', (text) => {
    const lines = text.split('\n');
    lines.splice(50, 1);
    return lines.join('\n');
  });
  const size = await runProcedure(sizeAndSha, filesOf(csv, { file }));
  expect(size.code).not.toBe(0);
  expect(size.stderr).toContain('size MISMATCH');
  const count = await runProcedure(records, filesOf(csv, { file }));
  expect(count.code).not.toBe(0);
  expect(count.stderr).toContain(
    `AssertionError: the file holds ${csv.manifest.records - 1} records, the manifest says ${csv.manifest.records}`,
  );
});

test('two JSON events swapped keep the size and count but fail the SHA-256 and the records digest', async () => {
  const file = tamperedFile(json, 'swapped.json', (text) => {
    const lines = text.split('\n');
    [lines[20], lines[21]] = [lines[21]!, lines[20]!];
    return lines.join('\n');
  });
  const sha = await runProcedure(sizeAndSha, filesOf(json, { file }));
  expect(sha.stdout).toContain('size OK');
  expect(sha.stdout).toContain(`${file}: FAILED`);
  expect(sha.code).not.toBe(0);
  const digest = await runProcedure(records, filesOf(json, { file }));
  expect(digest.stdout).toContain(`records OK: ${json.manifest.records}`);
  expect(digest.stderr).toContain('AssertionError: records digest is');
  expect(digest.code).not.toBe(0);
});

test('an edited manifest, or one signed by another key, fails the signature', async () => {
  const edited = path.join(dir, 'edited.manifest.json');
  writeFileSync(edited, manifestText({ ...json.manifest, records: json.manifest.records + 1 }));
  const result = await runProcedure(signature, filesOf(json, { manifest: edited }));
  expect(result.code).not.toBe(0);
  expect(result.stdout).toContain('Verification failure');

  const otherKey = path.join(dir, 'other.pem');
  writeFileSync(otherKey, testKey('kt-local-fedcba9876543210').publicKeyPem);
  const wrongKey = await runProcedure(signature, filesOf(json, { key: otherKey }));
  expect(wrongKey.code).not.toBe(0);
  expect(wrongKey.stdout).toContain('Verification failure');
});

test('the manifest of another export fails the size, SHA-256 and export id', async () => {
  const other = await writeEvidence(dir, 'other.json', [], {
    id: 'exp_01jq8m3k7b5x9c2d4f6j',
    format: 'json',
    key: KEY,
  });
  const files = filesOf(json, { manifest: other.manifestPath });
  expect((await runProcedure(sizeAndSha, files)).code).not.toBe(0);
  const exportId = await runProcedure(records, files);
  expect(exportId.code).not.toBe(0);
  expect(exportId.stderr).toContain(
    `AssertionError: export.id is ${ID}, the manifest says exp_01jq8m3k7b5x9c2d4f6j`,
  );
  expect(readFileSync(other.artifact, 'utf8')).toContain('"events":[],');
});
