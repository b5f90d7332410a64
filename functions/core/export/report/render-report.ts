import PDFDocument from 'pdfkit';
import type { TimeRange } from '../../events/time-range.ts';
import type { ExportFilters } from '../export-metadata.ts';
import { type ReportPageSize, pageDimensions } from './page-size.ts';
import { type ReportFonts, ReportText } from './report-text.ts';
import { type Breakdown, type ReportSummary, SUMMARY_DIMENSIONS, type SummaryDimension } from './report-summary.ts';

/**
 * The PDF evidence report: cover, executive summary, per-day activity chart, what the evidence
 * supports, how to verify it, then the event table. Rendered in one pass, page after page, and
 * streamed out as it goes: a finished page is written to `write` and never held, so memory does
 * not grow with the number of events.
 *
 * Every page's footer says "Page X of Y", so Y is worked out before the first page: the front
 * pages are fixed, and table rows have a fixed height (a long cell ends in "…" instead of
 * wrapping), so the table's page count follows from the number of rows it shows.
 */

/** The companion CSV every PDF job writes: all records, whatever the table shows. */
export interface CompanionArtifact {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ReportInput {
  readonly exportId: string;
  readonly title?: string;
  readonly range: TimeRange;
  readonly filters: ExportFilters;
  /** ISO 8601 UTC: when the report was rendered. */
  readonly generatedAt: string;
  readonly summary: ReportSummary;
  /** Records digest (sha256-records-v1, lowercase hex) of every record in the export. */
  readonly recordsDigest: string;
  readonly companion: CompanionArtifact;
  readonly pageSize: ReportPageSize;
  /** The table shows at most this many rows; the companion CSV has them all. */
  readonly maxDetailRows: number;
  /** The records in export order, at least min(summary.records, maxDetailRows) of them. */
  readonly events: AsyncIterable<Readonly<Record<string, unknown>>>;
  readonly fonts: ReportFonts;
  /** Receives the PDF's bytes in order; awaited, so a slow upload holds rendering back. */
  readonly write: (chunk: Uint8Array) => Promise<void>;
}

export interface ReportResult {
  readonly pages: number;
  readonly rowsShown: number;
  readonly bytes: number;
  /** Characters no embedded font has, drawn as □. */
  readonly missingCharacters: number;
}

export const REPORT_PRODUCER = 'Keeptrusts Export';
export const REPORT_FRONT_PAGES = 4;

const MARGIN = 42;
const CONTENT_TOP = 58;
const CONTENT_BOTTOM_GAP = 46;
const TABLE_HEADER_HEIGHT = 15;
const ROW_HEIGHT = 10.5;
const ROW_FONT = 6.2;
/** Row slots kept after the last row for the note that ends the table. */
const NOTE_ROWS = 5;
const COLUMNS: readonly { key: string; label: string; share: number; numeric?: true }[] = [
  { key: 'id', label: 'Event ID', share: 0.17 },
  { key: 'timestamp', label: 'Timestamp (UTC)', share: 0.175 },
  { key: 'model', label: 'Model', share: 0.12 },
  { key: 'policy', label: 'Policy', share: 0.12 },
  { key: 'action', label: 'Action', share: 0.075 },
  { key: 'result', label: 'Result', share: 0.08 },
  { key: 'tokens', label: 'Tokens', share: 0.06, numeric: true },
  { key: 'latency_ms', label: 'Latency', share: 0.07, numeric: true },
  { key: 'team', label: 'Team', share: 0.13 },
];
const DIMENSION_LABELS: Readonly<Record<SummaryDimension, string>> = {
  action: 'By action',
  result: 'By result',
  policy: 'By policy',
  team: 'By team',
  model: 'By model',
};
const BREAKDOWN_ROWS = 8;
const NUMBER = new Intl.NumberFormat('en-US');
const PERCENT = new Intl.NumberFormat('en-US', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const INK = '#000000';
const MUTED = '#444444';
const RULE = '#888888';
const SHADE = '#eeeeee';

/** Rows one table page holds at this page size. */
export function rowsPerTablePage(pageSize: ReportPageSize): number {
  const { height } = pageDimensions(pageSize);
  return Math.floor((height - CONTENT_BOTTOM_GAP - CONTENT_TOP - TABLE_HEADER_HEIGHT) / ROW_HEIGHT);
}

/** The report's page count, known before it is rendered (every footer says "of Y"). */
export function reportPageCount(rowsShown: number, pageSize: ReportPageSize): number {
  return REPORT_FRONT_PAGES + Math.max(1, Math.ceil((rowsShown + NOTE_ROWS) / rowsPerTablePage(pageSize)));
}

export async function renderReport(input: ReportInput): Promise<ReportResult> {
  const records = input.summary.records;
  const rowsShown = Math.min(records, input.maxDetailRows);
  const totalPages = reportPageCount(rowsShown, input.pageSize);
  const { width, height } = pageDimensions(input.pageSize);
  const title = input.title ?? defaultTitle(input.range);
  const generated = new Date(input.generatedAt);

  const doc = new PDFDocument({
    size: [width, height],
    margin: 0,
    autoFirstPage: false,
    // No standard font: pdfkit would load Helvetica's metrics from a file beside its own module,
    // which a bundled Lambda does not have. Every glyph comes from the embedded fonts.
    font: '',
    bufferPages: false,
    // Shaped strings are cached by ReportText, boundedly; pdfkit's own cache never empties.
    fontLayoutCache: false,
    compress: true,
    pdfVersion: '1.7',
    lang: 'en',
    displayTitle: true,
    info: {
      Title: title,
      Author: REPORT_PRODUCER,
      Subject: `Decision evidence export ${input.exportId}`,
      Producer: REPORT_PRODUCER,
      Creator: REPORT_PRODUCER,
      CreationDate: generated,
      ModDate: generated,
    },
  });
  const sink = new ChunkSink(doc, input.write);
  const text = new ReportText(doc, input.fonts);
  const layout: Layout = { doc, text, width, height, title, exportId: input.exportId, totalPages, page: 0 };

  try {
    cover(layout, input, rowsShown);
    await sink.drain();
    summaryPage(layout, input.summary);
    await sink.drain();
    activityPage(layout, input);
    await sink.drain();
    verifyPage(layout, input, rowsShown);
    await sink.drain();
    await table(layout, input, rowsShown, sink);
    doc.end();
    await sink.finished();
  } catch (error) {
    sink.abandon();
    throw error;
  }
  if (layout.page !== totalPages) {
    throw new Error(`the report has ${layout.page} pages but its footers say ${totalPages}`);
  }
  return { pages: totalPages, rowsShown, bytes: sink.bytes, missingCharacters: text.stats().missingCharacters };
}

interface Layout {
  readonly doc: PDFKit.PDFDocument;
  readonly text: ReportText;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly exportId: string;
  readonly totalPages: number;
  page: number;
}

/** Starts a page with its running header (not on the cover) and its footer. */
function newPage(layout: Layout, header = true): void {
  const { doc, text, width, height } = layout;
  text.flush();
  doc.addPage({ size: [width, height], margin: 0 });
  layout.page += 1;
  if (header) {
    text.draw(layout.title, MARGIN, 26, { size: 7.5, bold: true, maxWidth: width - 2 * MARGIN - 150 });
    text.draw('Keeptrusts decision evidence', width - MARGIN, 26, { size: 7.5, align: 'right' });
    doc.moveTo(MARGIN, 40).lineTo(width - MARGIN, 40).lineWidth(0.5).strokeColor(RULE).stroke();
  }
  doc.moveTo(MARGIN, height - 34).lineTo(width - MARGIN, height - 34).lineWidth(0.5).strokeColor(RULE).stroke();
  text.draw(`Export ${layout.exportId}`, MARGIN, height - 29, { size: 7.5 });
  text.draw(`Page ${NUMBER.format(layout.page)} of ${NUMBER.format(layout.totalPages)}`, width - MARGIN, height - 29, {
    size: 7.5,
    align: 'right',
  });
}

function heading(layout: Layout, label: string, y: number, size = 15): number {
  layout.text.draw(label, MARGIN, y, { size, bold: true });
  return y + size * 1.6;
}

function cover(layout: Layout, input: ReportInput, rowsShown: number): void {
  const { doc, text, width, height } = layout;
  const inner = width - 2 * MARGIN;
  newPage(layout, false);
  doc.rect(0, 0, width, 8).fill(INK);
  text.draw('KEEPTRUSTS  ·  DECISION EVIDENCE REPORT', MARGIN, 54, { size: 9, bold: true });
  let y = text.paragraph(layout.title, MARGIN, 80, inner, { size: 24, bold: true, lineHeight: 30 });
  y = text.paragraph(rangeText(input.range), MARGIN, y + 4, inner, { size: 11.5 });
  const records = input.summary.records;
  text.draw(NUMBER.format(records), MARGIN, y + 16, { size: 34, bold: true });
  text.draw(records === 1 ? 'decision event' : 'decision events', MARGIN, y + 58, { size: 11 });
  y += 90;
  doc.moveTo(MARGIN, y).lineTo(width - MARGIN, y).lineWidth(0.75).strokeColor(INK).stroke();
  y += 10;

  const shown =
    rowsShown === records
      ? `All ${NUMBER.format(records)} events are listed in the event table.`
      : `${NUMBER.format(rowsShown)} of ${NUMBER.format(records)} events are listed in the event table (this deployment's limit); ` +
        `all ${NUMBER.format(records)} are in the companion CSV ${input.companion.name}. Every summary covers all of them.`;
  const details: [string, string][] = [
    ['Export ID', input.exportId],
    ['Time range', `${input.range.from} → ${input.range.to} (inclusive, UTC)`],
    ['Filters', filtersText(input.filters)],
    ['Generated', input.generatedAt],
    ['Records', `${NUMBER.format(records)}`],
    ['Event table', shown],
    ['Records digest', `${input.recordsDigest} (sha256-records-v1, the same for the JSON, CSV and PDF exports of one query)`],
    [
      'Companion CSV',
      `${input.companion.name}: every record, ${NUMBER.format(input.companion.bytes)} bytes, SHA-256 ${input.companion.sha256}`,
    ],
    [
      'This file',
      `Its SHA-256 and size are in the signed manifest ${input.exportId}.pdf.manifest.json, which also lists the companion CSV; ` +
        '"How to verify this evidence" (page 4) checks both.',
    ],
  ];
  for (const [label, value] of details) {
    text.draw(label, MARGIN, y, { size: 8.5, bold: true });
    y = text.paragraph(value, MARGIN + 100, y, inner - 100, { size: 8.5, lineHeight: 11.5 }) + 5;
  }
  y += 14;
  text.draw('Contents', MARGIN, y, { size: 10, bold: true });
  y += 16;
  const contents: [string, string][] = [
    ['Executive summary: totals by action, result, policy, team and model', '2'],
    ['Activity per day, and what this evidence supports (SOC 2, HIPAA, ISO 27001)', '3'],
    ['How to verify this evidence', '4'],
    ['Event table', layout.totalPages > 5 ? `5–${NUMBER.format(layout.totalPages)}` : '5'],
  ];
  for (const [entry, pages] of contents) {
    text.draw(entry, MARGIN, y, { size: 8.5, maxWidth: inner - 60 });
    text.draw(pages, width - MARGIN, y, { size: 8.5, align: 'right' });
    y += 13;
  }
  const note =
    'This report presents the decision events that the Keeptrusts gateway recorded for the governed LLM requests in the ' +
    'range above. It is evidence of what was recorded and how the policies acted; it does not by itself certify compliance ' +
    'with any framework.';
  const boxTop = Math.max(y + 12, height - 130);
  doc.rect(MARGIN, boxTop, inner, 56).lineWidth(0.75).strokeColor(INK).stroke();
  text.paragraph(note, MARGIN + 10, boxTop + 9, inner - 20, { size: 8.5, lineHeight: 12 });
  text.flush();
}

function summaryPage(layout: Layout, summary: ReportSummary): void {
  const { text, width } = layout;
  newPage(layout);
  let y = heading(layout, 'Executive summary', CONTENT_TOP);
  const days = Object.keys(summary.perDay).length;
  const mean = summary.records === 0 ? 0 : summary.latencyMs / summary.records;
  const line =
    `${NUMBER.format(summary.records)} decision events on ${NUMBER.format(days)} ${days === 1 ? 'day' : 'days'}, ` +
    `${NUMBER.format(summary.tokens)} tokens, mean latency ${NUMBER.format(Math.round(mean))} ms. ` +
    'Every total below covers every event in the export, including any not listed in the event table.';
  y = text.paragraph(line, MARGIN, y, width - 2 * MARGIN, { size: 9, lineHeight: 12.5 }) + 8;
  const columnWidth = (width - 2 * MARGIN - 20) / 2;
  // Two tables side by side; each band is as tall as its longer table (at most BREAKDOWN_ROWS + 1 rows).
  for (let band = 0; band < SUMMARY_DIMENSIONS.length; band += 2) {
    const pair = SUMMARY_DIMENSIONS.slice(band, band + 2);
    let bottom = y;
    pair.forEach((dimension, index) => {
      const x = MARGIN + index * (columnWidth + 20);
      const end = breakdownTable(layout, DIMENSION_LABELS[dimension], summary.breakdowns[dimension], summary.records, x, y, columnWidth);
      bottom = Math.max(bottom, end);
    });
    y = bottom + 18;
  }
  text.flush();
}

function breakdownTable(
  layout: Layout,
  label: string,
  breakdown: Breakdown,
  records: number,
  x: number,
  top: number,
  width: number,
): number {
  const { doc, text } = layout;
  text.draw(label, x, top, { size: 10, bold: true });
  let y = top + 16;
  const countX = x + width * 0.72;
  const shareX = x + width;
  text.draw('Value', x, y, { size: 7.5, bold: true });
  text.draw('Events', countX, y, { size: 7.5, bold: true, align: 'right' });
  text.draw('Share', shareX, y, { size: 7.5, bold: true, align: 'right' });
  y += 11;
  doc.moveTo(x, y - 1.5).lineTo(x + width, y - 1.5).lineWidth(0.5).strokeColor(INK).stroke();
  const entries = Object.entries(breakdown.counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const listed = entries.slice(0, BREAKDOWN_ROWS);
  const rest = entries.slice(BREAKDOWN_ROWS);
  const rows: [string, number][] = listed.map(([value, count]) => [value, count]);
  const otherCount = rest.reduce((sum, [, count]) => sum + count, 0) + breakdown.others;
  if (otherCount > 0) {
    // Values past the itemised ones were counted but not named (report-summary.ts): "+" says so.
    const more = breakdown.others > 0 ? '+' : '';
    const named = rest.length > 0 ? `${NUMBER.format(rest.length)}${more} other ${rest.length === 1 && more === '' ? 'value' : 'values'}` : 'other values';
    rows.push([`(${named})`, otherCount]);
  }
  if (rows.length === 0) {
    text.draw('No events', x, y + 1, { size: 8 });
    return y + 12;
  }
  for (const [value, count] of rows) {
    const share = records === 0 ? 0 : count / records;
    // A share bar drawn in outline and grey: the printed number carries the meaning, the bar helps the eye.
    const barWidth = width * 0.14;
    const barX = x + width * 0.42;
    doc.rect(barX, y + 2, barWidth, 5).lineWidth(0.4).strokeColor(RULE).stroke();
    if (share > 0) doc.rect(barX, y + 2, Math.max(0.5, barWidth * share), 5).fill(MUTED);
    text.draw(value === '' ? '(empty)' : value, x, y, { size: 8, maxWidth: width * 0.4 });
    text.draw(NUMBER.format(count), countX, y, { size: 8, align: 'right' });
    // A share that rounds to 0.0% is not nothing: say it is under 0.1%.
    text.draw(count > 0 && share < 0.0005 ? '<0.1%' : PERCENT.format(share), shareX, y, { size: 8, align: 'right' });
    y += 12;
  }
  doc.moveTo(x, y).lineTo(x + width, y).lineWidth(0.5).strokeColor(RULE).stroke();
  text.draw('Total', x, y + 2, { size: 8, bold: true });
  text.draw(NUMBER.format(records), countX, y + 2, { size: 8, bold: true, align: 'right' });
  text.draw(PERCENT.format(records === 0 ? 0 : 1), shareX, y + 2, { size: 8, bold: true, align: 'right' });
  return y + 14;
}

function activityPage(layout: Layout, input: ReportInput): void {
  const { doc, text, width } = layout;
  newPage(layout);
  let y = heading(layout, 'Activity per day', CONTENT_TOP);
  const days = daysOf(input.range);
  const counts = days.map((day) => input.summary.perDay[day] ?? 0);
  const peak = Math.max(0, ...counts);
  y = text.paragraph(
    `Decision events per UTC day across the range: ${NUMBER.format(days.length)} days, peak ${NUMBER.format(peak)} events.`,
    MARGIN,
    y,
    width - 2 * MARGIN,
    { size: 9 },
  );
  const chartLeft = MARGIN + 44;
  const chartRight = width - MARGIN;
  const chartTop = y + 22;
  const chartHeight = 230;
  const chartBottom = chartTop + chartHeight;
  const scale = niceScale(peak);
  // Grid lines with their values: the bars are read against numbers, not colours.
  for (let step = 0; step <= scale.steps; step += 1) {
    const value = step * scale.step;
    const gy = chartBottom - (value / scale.max) * chartHeight;
    doc.moveTo(chartLeft, gy).lineTo(chartRight, gy).lineWidth(0.3).strokeColor(step === 0 ? INK : '#bbbbbb').stroke();
    text.draw(NUMBER.format(value), chartLeft - 6, gy - 4, { size: 7, align: 'right' });
  }
  const slot = (chartRight - chartLeft) / Math.max(1, days.length);
  const barWidth = Math.max(0.6, slot * 0.72);
  const labelEvery = Math.max(1, Math.ceil(days.length / 12));
  days.forEach((day, index) => {
    const count = counts[index]!;
    const barHeight = scale.max === 0 ? 0 : (count / scale.max) * chartHeight;
    const bx = chartLeft + index * slot + (slot - barWidth) / 2;
    if (barHeight > 0) {
      doc.rect(bx, chartBottom - barHeight, barWidth, barHeight).fillAndStroke('#555555', INK);
      if (days.length <= 31 && barWidth >= 9) {
        text.draw(NUMBER.format(count), bx + barWidth / 2 + text.width(NUMBER.format(count), 5.5) / 2, chartBottom - barHeight - 8, {
          size: 5.5,
          align: 'right',
        });
      }
    }
    if (index % labelEvery === 0) {
      doc.moveTo(bx + barWidth / 2, chartBottom).lineTo(bx + barWidth / 2, chartBottom + 3).lineWidth(0.4).strokeColor(INK).stroke();
      text.draw(shortDay(day), bx + barWidth / 2 - 12, chartBottom + 5, { size: 6.5 });
    }
  });
  text.draw('Events per day', MARGIN, chartTop - 16, { size: 7, bold: true });
  y = chartBottom + 30;

  y = heading(layout, 'What this evidence supports', y, 13);
  const mapping: [string, string][] = [
    [
      'SOC 2 CC7.2 (monitoring of system components for anomalies)',
      'The events show that every governed LLM request in the range was evaluated against policy and its decision recorded: ' +
        'the action and result per request, per policy and per team, and the daily volume above, from which unusual activity can be identified.',
    ],
    [
      'HIPAA §164.312(b) (audit controls)',
      'The events are a record of activity in the system that mediates access to the models: who (team), what (model, policy), ' +
        'when (timestamp) and the outcome, kept write-once and exported with a signed manifest.',
    ],
    [
      'ISO/IEC 27001:2022 A.8.15 (logging)',
      'The events are logs of the gateway’s decisions, produced and kept unchanged (write-once, records digest, signed manifest ' +
        'and a hash-chained audit trail of every export), so they can be relied on in a review.',
    ],
  ];
  for (const [control, statement] of mapping) {
    text.draw(control, MARGIN, y, { size: 9, bold: true, maxWidth: width - 2 * MARGIN });
    y = text.paragraph(statement, MARGIN, y + 12, width - 2 * MARGIN, { size: 8.5, lineHeight: 11.5 }) + 6;
  }
  text.paragraph(
    'These statements describe what the recorded data shows. Whether a control is met is for the organisation and its auditor to judge.',
    MARGIN,
    y + 2,
    width - 2 * MARGIN,
    { size: 8, lineHeight: 11 },
  );
  text.flush();
}

function verifyPage(layout: Layout, input: ReportInput, rowsShown: number): void {
  const { doc, text, width } = layout;
  const inner = width - 2 * MARGIN;
  newPage(layout);
  let y = heading(layout, 'How to verify this evidence', CONTENT_TOP);
  y = text.paragraph(
    'Every export has a manifest signed with an ECDSA P-256 key: it names this file’s size and SHA-256, the companion CSV’s, ' +
      'the records digest, the range and filters. Checking it needs no network access and no API token once the public key is saved.',
    MARGIN,
    y,
    inner,
    { size: 9, lineHeight: 12.5 },
  ) + 8;
  const steps: [string, string][] = [
    ['1. Download the report; its manifest is saved beside it.', `kt export download --id ${input.exportId} --output report.pdf`],
    ['2. Save the public key that signs manifests (once).', 'kt keys get --id <key id from the manifest> --output key.pem'],
    ['3. Check the signature, size and SHA-256 offline.', 'kt export verify --file report.pdf --public-key key.pem'],
    [
      '4. Download the companion CSV with every record (checked against its SHA-256 as it arrives); the same SHA-256 is on the cover and in the manifest.',
      `kt export download --id ${input.exportId} --companion --output ${input.companion.name}`,
    ],
    [
      '5. Its records digest, recomputed from the CSV (docs/verifying-evidence.md), must equal the one on the cover.',
      `sha256sum ${input.companion.name}`,
    ],
  ];
  for (const [step, command] of steps) {
    y = text.paragraph(step, MARGIN, y, inner, { size: 9, lineHeight: 12 }) + 2;
    doc.rect(MARGIN, y, inner, 16).fill(SHADE);
    text.draw(command, MARGIN + 8, y + 4, { size: 8.5, maxWidth: inner - 16 });
    y += 26;
  }
  y = text.paragraph(
    'An auditor can do the same with openssl, sha256sum and jq alone (docs/verifying-evidence.md in the Keeptrusts Export ' +
      'repository). A check that fails means the file is not the one that was exported.',
    MARGIN,
    y,
    inner,
    { size: 9, lineHeight: 12.5 },
  ) + 12;
  y = heading(layout, 'About this report', y, 13);
  const about = [
    `Records digest: ${input.recordsDigest}`,
    `Companion CSV: ${input.companion.name}, SHA-256 ${input.companion.sha256}`,
    rowsShown === input.summary.records
      ? `The event table lists all ${NUMBER.format(rowsShown)} events in (timestamp, id) order.`
      : `The event table lists the first ${NUMBER.format(rowsShown)} of ${NUMBER.format(input.summary.records)} events in (timestamp, id) order; the companion CSV lists all of them.`,
    'Cells too long for their column end in "…"; the companion CSV has every value in full. Control characters are shown as escapes such as \\n. ' +
      'A character that none of the embedded fonts can draw is shown as □ and counted at the end of the table.',
    'The CSV has no team column (its columns are the documented CSV header); the team of each event is in this report and in the JSON export.',
  ];
  for (const line of about) y = text.paragraph(line, MARGIN, y, inner, { size: 8.5, lineHeight: 11.5 }) + 4;
  text.flush();
}

async function table(layout: Layout, input: ReportInput, rowsShown: number, sink: ChunkSink): Promise<void> {
  const { doc, text, width } = layout;
  const inner = width - 2 * MARGIN;
  const perPage = rowsPerTablePage(input.pageSize);
  const xs: number[] = [];
  let left = MARGIN;
  for (const column of COLUMNS) {
    xs.push(left);
    left += column.share * inner;
  }
  let rowOnPage = perPage;
  const startPage = () => {
    newPage(layout);
    doc.rect(MARGIN, CONTENT_TOP, inner, TABLE_HEADER_HEIGHT).fill('#dddddd');
    COLUMNS.forEach((column, index) => {
      const cellWidth = column.share * inner;
      const x = column.numeric ? xs[index]! + cellWidth - 3 : xs[index]! + 3;
      text.draw(column.label, x, CONTENT_TOP + 4, { size: 6.8, bold: true, maxWidth: cellWidth - 6, align: column.numeric ? 'right' : 'left' });
    });
    rowOnPage = 0;
  };
  const rowTop = () => CONTENT_TOP + TABLE_HEADER_HEIGHT + rowOnPage * ROW_HEIGHT;

  let shown = 0;
  startPage();
  if (rowsShown > 0) {
    for await (const record of input.events) {
      if (rowOnPage >= perPage) {
        text.flush();
        await sink.drain();
        startPage();
      }
      const top = rowTop();
      if (shown % 2 === 1) doc.rect(MARGIN, top, inner, ROW_HEIGHT).fill('#f3f3f3');
      COLUMNS.forEach((column, index) => {
        const cellWidth = column.share * inner;
        const raw = record[column.key];
        const value = typeof raw === 'number' ? NUMBER.format(raw) : typeof raw === 'string' ? raw : '';
        const x = column.numeric ? xs[index]! + cellWidth - 3 : xs[index]! + 3;
        text.draw(value, x, top + 2, { size: ROW_FONT, maxWidth: cellWidth - 6, align: column.numeric ? 'right' : 'left' });
      });
      rowOnPage += 1;
      shown += 1;
      if (shown === rowsShown) break;
    }
  }
  if (shown !== rowsShown) {
    throw new Error(`the report expected ${rowsShown} events for its table but read ${shown}`);
  }
  // The note ends the table: its slots were counted in the page total, so it may start a page.
  if (rowOnPage + NOTE_ROWS > perPage) {
    text.flush();
    await sink.drain();
    startPage();
  }
  let y = rowTop() + 6;
  doc.moveTo(MARGIN, y - 3).lineTo(width - MARGIN, y - 3).lineWidth(0.5).strokeColor(INK).stroke();
  const records = input.summary.records;
  const end =
    records === 0
      ? 'No events matched this export’s range and filters.'
      : rowsShown === records
        ? `End of the event table: all ${NUMBER.format(records)} events are listed.`
        : `End of the event table: ${NUMBER.format(rowsShown)} of ${NUMBER.format(records)} events are listed. The other ` +
          `${NUMBER.format(records - rowsShown)} are in the companion CSV ${input.companion.name}, which holds all ${NUMBER.format(records)}.`;
  y = text.paragraph(end, MARGIN, y, inner, { size: 8, bold: true, lineHeight: 10.5 });
  const missing = text.stats().missingCharacters;
  text.paragraph(
    missing === 0
      ? 'Every character in this report was drawn with an embedded font.'
      : `${NUMBER.format(missing)} ${missing === 1 ? 'character' : 'characters'} had no glyph in the embedded fonts and ${missing === 1 ? 'is' : 'are'} shown as □; the companion CSV has the exact text.`,
    MARGIN,
    y,
    inner,
    { size: 7.5, lineHeight: 10 },
  );
  text.flush();
}

/** Collects pdfkit's output and hands it on in order, with backpressure between pages. */
class ChunkSink {
  bytes = 0;
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown;
  private readonly ended: Promise<void>;

  constructor(
    doc: PDFKit.PDFDocument,
    private readonly write: (chunk: Uint8Array) => Promise<void>,
  ) {
    doc.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.pending = this.pending.then(() => (this.failure === undefined ? this.write(chunk) : undefined));
      this.pending.catch((error: unknown) => {
        this.failure ??= error;
      });
    });
    this.ended = new Promise((resolve, reject) => {
      doc.on('end', () => resolve());
      doc.on('error', reject);
    });
  }

  /** Waits until every chunk so far is written (pdfkit emits a page when the next one starts). */
  async drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.pending;
    if (this.failure !== undefined) throw this.failure;
  }

  async finished(): Promise<void> {
    await this.ended;
    await this.drain();
  }

  abandon(): void {
    this.failure ??= new Error('rendering stopped');
  }
}

function defaultTitle(range: TimeRange): string {
  return `Decision evidence report: ${dayText(range.from)} – ${dayText(range.to)}`;
}

function rangeText(range: TimeRange): string {
  return `${dayText(range.from)} ${range.from.slice(11, 19)} UTC  →  ${dayText(range.to)} ${range.to.slice(11, 19)} UTC`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dayText(instant: string): string {
  const [year, month, day] = instant.slice(0, 10).split('-');
  return `${Number(day)} ${MONTHS[Number(month) - 1]} ${year}`;
}

function shortDay(day: string): string {
  const [, month, date] = day.split('-');
  return `${Number(date)} ${MONTHS[Number(month) - 1]}`;
}

function filtersText(filters: ExportFilters): string {
  const parts: string[] = [];
  if (filters.policy !== undefined) parts.push(`policy = ${filters.policy}`);
  if (filters.team !== undefined) parts.push(`team = ${filters.team}`);
  return parts.length === 0 ? 'None: every policy and every team' : parts.join('; ');
}

/** Every UTC day the range touches, `YYYY-MM-DD`. */
export function daysOf(range: TimeRange): string[] {
  const days: string[] = [];
  const last = range.to.slice(0, 10);
  const cursor = new Date(`${range.from.slice(0, 10)}T00:00:00Z`);
  for (let guard = 0; guard < 400; guard += 1) {
    const day = cursor.toISOString().slice(0, 10);
    days.push(day);
    if (day >= last) break;
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}

/** A y axis of round steps (1, 2, 5 × 10^n) that covers the peak. */
function niceScale(peak: number): { max: number; step: number; steps: number } {
  if (peak <= 0) return { max: 1, step: 1, steps: 1 };
  const rough = peak / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  const steps = Math.max(1, Math.ceil(peak / step));
  return { max: steps * step, step: Math.max(1, step), steps };
}
