import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadReportFonts } from '../../../../functions/adapters/fonts/report-fonts.ts';
import type { ReportPageSize } from '../../../../functions/core/export/report/page-size.ts';
import {
  type ReportInput,
  type ReportResult,
  renderReport,
  reportPageCount,
  rowsPerTablePage,
} from '../../../../functions/core/export/report/render-report.ts';
import { SummaryAccumulator } from '../../../../functions/core/export/report/report-summary.ts';
import type { ReportFonts } from '../../../../functions/core/export/report/report-text.ts';
import {
  differingShare,
  packImage,
  pdfInfo,
  pdfPages,
  renderPage,
  unpackImage,
} from '../../../support/pdf-tools.ts';

/**
 * The PDF report drawn from hostile data and read back as an auditor's tools read it: pdftotext
 * for the text (every script, exactly as ingested), pdfinfo for the pages, pdftoppm for a
 * picture of the cover and of a table page compared with the committed ones.
 */

type Row = Record<string, string | number>;

const EXPORT_ID = 'exp_01jsnapshot000000000';
const SNAPSHOTS = path.join(__dirname, 'snapshots');
const UPDATE = process.env.UPDATE_REPORT_SNAPSHOTS === '1';

let fonts: ReportFonts;
let dir: string;

beforeAll(async () => {
  fonts = await loadReportFonts();
  dir = mkdtempSync(path.join(tmpdir(), 'kt-report-'));
});

afterAll(() => { if (!process.env.KEEP_REPORTS) rmSync(dir, { recursive: true, force: true }); });

/** `count` plain events over 23 days of April 2026, in export order. */
function events(count: number, team = (index: number) => ['platform', 'research', 'support'][index % 3]!): Row[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `evt_${String(index).padStart(8, '0')}`,
    timestamp: new Date(Date.UTC(2026, 3, 1) + Math.floor((index * 23 * 86_400_000) / Math.max(1, count))).toISOString(),
    model: ['gpt-4o', 'claude-3-5-sonnet', 'gemini-1.5-pro'][index % 3]!,
    policy: ['pii-redaction', 'prompt-injection', 'cost-guard', 'data-residency'][index % 4]!,
    action: ['allow', 'redact', 'block'][index % 3]!,
    result: ['passed', 'modified', 'blocked'][index % 3]!,
    tokens: (index * 37) % 5000,
    latency_ms: (index * 13) % 900,
    team: team(index),
  }));
}

async function render(
  name: string,
  rows: readonly Row[],
  options: Partial<Pick<ReportInput, 'title' | 'maxDetailRows' | 'pageSize' | 'filters'>> = {},
): Promise<{ file: string; result: ReportResult }> {
  const summary = new SummaryAccumulator();
  for (const row of rows) summary.add(row);
  const file = path.join(dir, `${name}.pdf`);
  const out = createWriteStream(file);
  async function* records() {
    for (const row of rows) yield row;
  }
  const result = await renderReport({
    exportId: EXPORT_ID,
    ...(options.title === undefined ? {} : { title: options.title }),
    range: { from: '2026-04-01T00:00:00Z', to: '2026-04-23T23:59:59Z' },
    filters: options.filters ?? {},
    generatedAt: '2026-04-24T08:00:00.000Z',
    summary: summary.summary(),
    recordsDigest: '4a5b'.repeat(16),
    companion: { name: `${EXPORT_ID}.csv`, bytes: 123_456, sha256: '9c1e'.repeat(16) },
    pageSize: options.pageSize ?? 'a4',
    maxDetailRows: options.maxDetailRows ?? 100_000,
    events: records(),
    fonts,
    write: (chunk) => new Promise((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve()))),
  });
  await new Promise<void>((resolve) => out.end(resolve));
  return { file, result };
}

/** Text with every run of white space (line ends included) as one space. */
const flat = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ');

/** "Page X of Y" is the last thing on each page; every page has it, with the right numbers. */
function expectPageNumbers(pages: readonly string[]): void {
  pages.forEach((text, index) => {
    expect(text).toContain(`Page ${(index + 1).toLocaleString('en-US')} of ${pages.length.toLocaleString('en-US')}`);
    expect(text).toContain(`Export ${EXPORT_ID}`);
  });
}

describe('the PDF report', () => {
  it('has the title, the count with thousands separators and Page X of Y on every page', async () => {
    const rows = events(1_234);
    const { file, result } = await render('plain', rows, { title: 'Q2 2026 AI Compliance Report' });
    const pages = pdfPages(file);
    expect(pages).toHaveLength(result.pages);
    expect(Number(pdfInfo(file).Pages)).toBe(result.pages);
    expect(result.pages).toBe(reportPageCount(1_234, 'a4'));
    expect(pages[0]).toContain('Q2 2026 AI Compliance Report');
    expect(pages[0]).toContain('1,234');
    expect(pages[0]).toContain('4a5b'.repeat(16));
    expect(pages[0]).toContain('9c1e'.repeat(16));
    expect(pages[1]).toContain('Executive summary');
    expect(pages[2]).toContain('Activity per day');
    expect(pages[2]).toContain('SOC 2 CC7.2');
    expect(pages[2]).toContain('HIPAA §164.312(b)');
    expect(pages[2]).toContain('A.8.15');
    expect(pages[3]).toContain('How to verify this evidence');
    expect(pages[3]).toContain('kt export verify --file');
    expect(flat(pages.at(-1))).toContain('End of the event table: all 1,234 events are listed.');
    expectPageNumbers(pages);
    // The table: a header row on every table page, and every event once.
    const table = pages.slice(4);
    for (const page of table) expect(page).toContain('Timestamp (UTC)');
    const ids = table.join('\n').match(/evt_\d{8}/g) ?? [];
    expect(ids).toEqual(rows.map((row) => row.id));
    expect(pdfInfo(file)['Page size']).toContain('A4');
  });

  it('draws every script exactly as ingested, and counts what no font has', async () => {
    const names = [
      'データ分析チーム',
      '山田 太郎',
      'Équipe Sécurité',
      'Zürich Ærø Øresund',
      'Команда безопасности',
      'Ομάδα ασφαλείας',
      '数据团队',
      '보안 팀',
      'team 🚀✅',
    ];
    const rows = events(names.length * 3, (index) => names[index % names.length]!);
    const { file, result } = await render('scripts', rows, { title: 'Rapport de conformité — 第2四半期 “Q2” ½ ≤ 100' });
    const text = pdfPages(file, true).join('\n');
    for (const name of names) expect(text).toContain(name);
    expect(text).toContain('Rapport de conformité — 第2四半期 “Q2” ½ ≤ 100');
    expect(result.missingCharacters).toBe(0);
    expect(flat(text)).toContain('Every character in this report was drawn with an embedded font.');
  });

  it('survives hostile values: right-to-left text, control characters, 10 KB strings, scripts it has no font for', async () => {
    const long = 'x'.repeat(10_240);
    const rows = events(12, (index) =>
      ['צוות אבטחה', 'فريق البيانات', 'a\u0007b\nc\td', long, 'ทีม ไทย', 'ᚠᛇᚻ runes'][index % 6]!,
    );
    rows[1] = { ...rows[1]!, id: `evt_${'y'.repeat(10_000)}`, policy: long };
    const { file, result } = await render('hostile', rows);
    const pages = pdfPages(file, true);
    const text = pages.join('\n');
    expectPageNumbers(pages);
    // Right-to-left words come back as written (each word; the line order is the viewer's business).
    for (const word of ['צוות', 'אבטחה', 'فريق', 'البيانات']) expect(text).toContain(word);
    // Control characters are shown as escapes, never acted on.
    expect(text).toContain('a\\u0007b\\nc\\td');
    // A long value ends in "…" inside its column rather than running over the next one.
    expect(text).toMatch(/xxxx…/);
    expect(text).toMatch(/evt_yyyy[y]*…/);
    // Thai and runes have no embedded font: each character is □, and counted.
    expect(text).toContain('□□□ runes');
    expect(result.missingCharacters).toBeGreaterThan(0);
    expect(flat(text)).toContain(`${result.missingCharacters} characters had no glyph in the embedded fonts`);
    // Every row is still there, one line each.
    expect(text.match(/evt_\d{8}/g)).toHaveLength(11);
  });

  it('renders an empty export: a cover that says 0 and a table that says no events matched', async () => {
    const { file, result } = await render('empty', [], {});
    const pages = pdfPages(file);
    expect(result).toMatchObject({ pages: 5, rowsShown: 0, missingCharacters: 0 });
    expect(pages).toHaveLength(5);
    expect(flat(pages[0])).toContain('Decision evidence report: 1 Apr 2026 – 23 Apr 2026');
    expect(pages[0]).toMatch(/\b0\s+decision events/);
    expect(flat(pages[4])).toContain('No events matched this export’s range and filters.');
    expectPageNumbers(pages);
  });

  it('says where detail rows stop and names the companion CSV that has them all; summaries cover every record', async () => {
    const rows = events(500);
    const { file, result } = await render('capped', rows, { maxDetailRows: 120, filters: { policy: 'pii-redaction' } });
    expect(result.rowsShown).toBe(120);
    const pages = pdfPages(file);
    expect(pages).toHaveLength(reportPageCount(120, 'a4'));
    expect(flat(pages[0])).toContain('120 of 500 events are listed in the event table');
    expect(pages[0]).toContain(`${EXPORT_ID}.csv`);
    expect(pages[0]).toContain('policy = pii-redaction');
    expect(flat(pages.at(-1))).toContain(
      `End of the event table: 120 of 500 events are listed. The other 380 are in the companion CSV ${EXPORT_ID}.csv, which holds all 500.`,
    );
    // The summary's totals are over all 500.
    expect(pages[1]).toContain('500 decision events');
    expect(pages.slice(4).join('\n').match(/evt_\d{8}/g)).toHaveLength(120);
  });

  it.each(['a4', 'letter'] as const)('lays out %s pages with the rows its page count promises', async (pageSize: ReportPageSize) => {
    const perPage = rowsPerTablePage(pageSize);
    // Exactly enough rows that the closing note needs a page of its own.
    const rows = events(perPage * 2 - 2);
    const { file, result } = await render(`size-${pageSize}`, rows, { pageSize });
    const info = pdfInfo(file);
    expect(info['Page size']).toContain(pageSize === 'a4' ? 'A4' : 'letter');
    expect(Number(info.Pages)).toBe(result.pages);
    expect(result.pages).toBe(reportPageCount(rows.length, pageSize));
    expectPageNumbers(pdfPages(file));
  });
});

describe('the report layout (pictures compared with the committed ones)', () => {
  // A fixed report: same data, same fonts, same bytes each run.
  const DPI = 40;
  const names = ['engineering', 'データ分析チーム', 'Équipe Sécurité', 'support', 'R&D – Zürich 🚀'];

  it.each([
    ['cover', 1],
    ['summary', 2],
    ['activity', 3],
    ['table', 5],
  ] as const)('the %s page looks as it did', async (name, page) => {
    const { file } = await render('snapshot', events(300, (index) => names[index % names.length]!), {
      title: 'Q2 2026 AI Compliance Report',
    });
    const image = renderPage(file, page, DPI);
    const reference = path.join(SNAPSHOTS, `${name}.pgm.gz`);
    if (UPDATE || !existsSync(reference)) {
      if (!UPDATE && process.env.CI) throw new Error(`no reference picture ${reference}; run with UPDATE_REPORT_SNAPSHOTS=1`);
      writeFileSync(reference, packImage(image));
    }
    const expected = unpackImage(readFileSync(reference));
    expect({ width: image.width, height: image.height }).toEqual({ width: expected.width, height: expected.height });
    // Under 1% of pixels may differ (antialiasing between poppler versions); a layout change moves far more.
    expect(differingShare(image, expected)).toBeLessThan(0.01);
  });
});
