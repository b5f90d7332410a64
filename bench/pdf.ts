import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatCount } from '../cli/output.ts';
import type { DecisionEvent } from '../functions/core/events/decision-event.ts';
import { checkCount, loadEvents, RANGE, RESOURCES, runWorker, type Size, startServers } from './export.ts';
import type { WorkerReport, WorkerTask } from './export-worker.ts';

/** Targets of the PDF issue, for N = 100,000 on the 2-core machine. */
const SECONDS_TARGET = 30;
const RSS_TARGET_MB = 700;
/** Every fifth event gets one of these team names: CJK, Cyrillic, Greek, Arabic, Hebrew, Hangul. */
const NON_LATIN = ['データ分析チーム', 'Команда безопасности', 'Ομάδα ασφαλείας', 'فريق البيانات', 'צוות אבטחה', '数据团队', '보안 팀'];

/**
 * `npm run bench -- pdf [--events N]`: N events (default 100,000) and the first N/10, a fifth of
 * them with non-Latin team names, exported as PDF through the real steps (Prepare, ExportPage
 * writing the companion CSV, RenderReport, Finalize) from the embedded DynamoDB to the embedded
 * S3, and, in the same run, as JSON. Each export is a fresh worker process reporting its time and
 * its peak RSS; the JSON worker runs with ExportPage's heap limits, the PDF worker without (the
 * RenderReport Lambda has none, and 2,048 MB).
 */
export async function benchPdf(options: { events?: number }): Promise<void> {
  const total = options.events ?? 100_000;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kt-bench-pdf-'));
  const servers = await startServers(dataDir);
  try {
    const nonLatin = (event: DecisionEvent, index: number): DecisionEvent =>
      index % 5 === 0 ? { ...event, team: NON_LATIN[(index / 5) % NON_LATIN.length]! } : event;
    const { small } = await loadEvents(servers.endpoints.dynamodb, total, nonLatin);
    const sizes: Size[] = [small, { label: 'N', range: RANGE, expected: total }];
    const task = (size: Size, format: 'json' | 'pdf'): WorkerTask => ({
      mode: 'export',
      endpoints: servers.endpoints,
      eventsTable: RESOURCES.eventsTable,
      controlTable: RESOURCES.controlTable,
      bucket: RESOURCES.bucket,
      range: size.range,
      format,
    });
    console.log(
      `pdf: ${formatCount(small.expected)} and ${formatCount(total)} events (a fifth with non-Latin team names), ` +
        `PDF and JSON, each export a fresh Node ${process.version} process`,
    );
    const rows: string[][] = [
      ['events', 'format', 'pages', 'bytes', 'export s', 'render s', 'events/s', 'peak RSS'],
    ];
    let largest: WorkerReport | undefined;
    for (const size of sizes) {
      const json = await runWorker(task(size, 'json'));
      checkCount(`json export of ${size.label}`, json.items, size.expected);
      const pdf = await runWorker(task(size, 'pdf'), []);
      checkCount(`pdf export of ${size.label}`, pdf.items, size.expected);
      for (const report of [json, pdf]) {
        rows.push([
          formatCount(report.items),
          report.format ?? '',
          report.pages === undefined ? '' : formatCount(report.pages),
          formatCount(report.reportBytes ?? report.bytes ?? 0),
          (report.ms / 1000).toFixed(1),
          report.renderMs === undefined ? '' : (report.renderMs / 1000).toFixed(1),
          formatCount(Math.round(report.items / ((report.renderMs ?? report.ms) / 1000))),
          `${formatCount(Math.round(report.maxRssKiB / 1024))} MB`,
        ]);
      }
      if (size.label === 'N') largest = pdf;
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) console.log(row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
    console.log(
      'export s: Prepare to Finalize (for a PDF: the companion CSV, the report and both uploads); ' +
        'render s: the RenderReport step alone; events/s: of render s for a PDF, of export s for JSON',
    );
    if (largest !== undefined && total === 100_000) {
      const seconds = (largest.renderMs ?? largest.ms) / 1000;
      const rss = largest.maxRssKiB / 1024;
      console.log(
        `targets at 100,000 events: render ${seconds.toFixed(1)} s (< ${SECONDS_TARGET} s: ${seconds < SECONDS_TARGET ? 'met' : 'MISSED'}), ` +
          `peak RSS ${Math.round(rss)} MB (< ${RSS_TARGET_MB} MB: ${rss < RSS_TARGET_MB ? 'met' : 'MISSED'})`,
      );
    }
  } finally {
    await servers.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
