import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pdfInfo, pdfPages } from '../support/pdf-tools.ts';
import { ktFor, ROOT, type runKt, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * Tutorial Step 7 (../shared/reference/export-tutorial.txt), the PDF report, as a user runs it:
 * `npm start` on a fresh data dir, the sample events and a few with Japanese and accented team
 * names imported, then the real `kt` binary: create with --format pdf --title, download, verify,
 * and the PDF read back with pdftotext as an auditor's tools read it.
 */

const SAMPLE = 'events/sample-decision-events.jsonl';
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-23T23:59:59Z';
const TITLE = 'Q2 2026 AI Compliance Report';
const NAMES = ['データ分析チーム', 'Équipe Sécurité', 'Łódź Ops'];
const EXTRA = NAMES.map((team, index) => ({
  id: `evt_pdf_names_${index}`,
  timestamp: `2026-04-1${index}T08:00:00Z`,
  model: 'gpt-4o',
  policy: 'pii-redaction',
  action: 'redact',
  result: 'modified',
  tokens: 100 + index,
  latency_ms: 300 + index,
  team,
}));

const inRange = (timestamp: string) =>
  Date.parse(timestamp) >= Date.parse(FROM) && Date.parse(timestamp) <= Date.parse(TO);
const expected =
  readFileSync(path.join(ROOT, SAMPLE), 'utf8')
    .trim()
    .split('\n')
    .filter((line) => inRange((JSON.parse(line) as { timestamp: string }).timestamp)).length + EXTRA.length;

describe('tutorial Step 7: export as a PDF report', () => {
  let root: string;
  let stack: StartedStack;
  let kt: (args: readonly string[]) => ReturnType<typeof runKt>;
  let id = '';

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-pdf-'));
    stack = await startFreshStack(root);
    kt = ktFor(stack);
    const names = path.join(root, 'names.jsonl');
    writeFileSync(names, `${EXTRA.map((event) => JSON.stringify(event)).join('\n')}\n`);
    expect((await kt(['events', 'import', '--file', SAMPLE])).code).toBe(0);
    expect((await kt(['events', 'import', '--file', names])).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('kt export create --format pdf --title prints the job like any other format', async () => {
    const result = await kt([
      'export',
      'create',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      'pdf',
      '--title',
      TITLE,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    id = lines[1]?.replace('Job ID: ', '') ?? '';
    expect(id).toMatch(/^exp_[0-9a-z]{20}$/);
    expect(lines).toEqual([
      '✓ Export job created',
      `Job ID: ${id}`,
      'Format: pdf',
      'Status: queued',
      `Range: ${FROM} → ${TO}`,
      `Title: ${TITLE}`,
    ]);
  });

  test('kt export download --output q2-compliance.pdf: the report an auditor reads', async () => {
    for (let attempt = 0; attempt < 240; attempt += 1) {
      const status = JSON.parse((await kt(['export', 'status', '--id', id, '-o', 'json'])).stdout) as {
        status: string;
      };
      if (status.status === 'completed') break;
      expect(['queued', 'running']).toContain(status.status);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const file = path.join(root, 'q2-compliance.pdf');
    const download = await kt(['export', 'download', '--id', id, '--output', file]);
    expect(download.stderr).toBe('');
    expect(download.code).toBe(0);
    expect(download.stdout).toContain('SHA-256 verified');
    expect(existsSync(`${file}.manifest.json`)).toBe(true);

    const pages = pdfPages(file);
    expect(Number(pdfInfo(file).Pages)).toBe(pages.length);
    expect(pages[0]).toContain(TITLE);
    expect(pages[0]).toContain(expected.toLocaleString('en-US'));
    expect(expected).toBeGreaterThan(999);
    const text = pdfPages(file, true).join('\n');
    for (const name of NAMES) expect(text).toContain(name);
    for (const [index, page] of pages.entries()) expect(page).toContain(`Page ${index + 1} of ${pages.length}`);

    // The manifest signs the PDF and lists the companion CSV with every record.
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      format: 'pdf',
      records: expected,
      title: TITLE,
      artifact: { name: `${id}.pdf` },
      companion: { name: `${id}.csv`, format: 'csv' },
    });
    expect(pages[0]).toContain((manifest.companion as { sha256: string }).sha256);
    expect(pages[0]).toContain((manifest.recordsDigest as { sha256: string }).sha256);

    const verify = await kt(['export', 'verify', '--file', file]);
    expect(verify.stdout).toContain('✓ Evidence verified');
    expect(verify.code).toBe(0);

    // The companion CSV: every record, its SHA-256 the one the manifest signs.
    const csv = path.join(root, 'records.csv');
    const companion = await kt([
      'export',
      'download',
      '--id',
      id,
      '--companion',
      '--output',
      csv,
      '-o',
      'json',
    ]);
    expect(companion.code).toBe(0);
    expect(JSON.parse(companion.stdout)).toMatchObject({
      sha256: (manifest.companion as { sha256: string }).sha256,
    });
    expect(readFileSync(csv, 'utf8').trim().split('\n')).toHaveLength(expected + 1);
    expect(existsSync(`${csv}.manifest.json`)).toBe(false);

    // verify checks the companion's bytes and records against the report's manifest when it is at
    // hand (named, or beside the report under its own name); without it, it says so and how to get it.
    expect(verify.stdout).toContain(`- Companion CSV: not checked: ${id}.csv is not beside the report`);
    const named = await kt(['export', 'verify', '--file', file, '--companion', csv]);
    expect(named.stdout).toContain(`✓ Companion SHA-256: ${(manifest.companion as { sha256: string }).sha256}`);
    expect(named.stdout).toContain(`✓ Records digest: ${(manifest.recordsDigest as { sha256: string }).sha256}`);
    expect(named.stdout).toContain('✓ Evidence verified');
    expect(named.code).toBe(0);
    copyFileSync(csv, path.join(path.dirname(file), `${id}.csv`));
    expect((await kt(['export', 'verify', '--file', file])).stdout).toContain(`✓ Records: ${expected.toLocaleString('en-US')}`);
    // One record dropped from the companion: its size, SHA-256, records digest and count all fail.
    const rows = readFileSync(csv, 'utf8').split('\n');
    writeFileSync(csv, [...rows.slice(0, 1), ...rows.slice(2)].join('\n'));
    const tampered = await kt(['export', 'verify', '--file', file, '--companion', csv, '-o', 'json']);
    expect(tampered.code).toBe(1);
    const failed = (JSON.parse(tampered.stdout) as { checks: { name: string; ok: boolean }[] }).checks
      .filter((check) => !check.ok)
      .map((check) => check.name);
    expect(failed).toEqual(['companionSize', 'companionSha256', 'recordsDigest', 'records']);
  });

  test('a JSON export has no companion to download', async () => {
    const created = await kt([
      'export',
      'create',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      'json',
      '--wait',
      '-o',
      'json',
    ]);
    expect(created.code).toBe(0);
    const json = JSON.parse(created.stdout) as { id: string };
    const result = await kt([
      'export',
      'download',
      '--id',
      json.id,
      '--companion',
      '--output',
      path.join(root, 'x.csv'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('only a PDF export has a companion CSV');
  });
});
