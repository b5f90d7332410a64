import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { formatCount } from '../cli/output.ts';
import { eventItem } from '../functions/adapters/dynamodb/event-keys.ts';
import type { DecisionEvent } from '../functions/core/events/decision-event.ts';
import { generateDemoEvents } from '../functions/core/events/demo-events.ts';
import type { TimeRange } from '../functions/core/events/time-range.ts';
import type { ExportFormat } from '../functions/core/export/export-metadata.ts';
import { EXPORT_PAGE_NODE_OPTIONS } from '../infra/constructs/workflow-definition.ts';
import type { WorkerReport, WorkerTask } from './export-worker.ts';

const ROUNDS = 3;
const FORMATS: readonly ExportFormat[] = ['csv', 'json'];
const RATIO_TARGET = 1.25;
const RSS_TARGET = 1.3;
/** The bare read's Query Limit: the page size the event store's stream grows to (MAX_QUERY_PAGE). */
const READ_PAGE_SIZE = 1000;
const LOAD_BATCH = 25;
const LOAD_IN_FLIGHT = 16;
export const RESOURCES = {
  eventsTable: 'keeptrusts-decision-events',
  controlTable: 'keeptrusts-export-control',
  bucket: 'keeptrusts-artifacts',
} as const;
/** The data set: N demo events spread evenly over one month. */
export const RANGE = { from: '2026-03-01T00:00:00Z', to: '2026-03-31T23:59:59Z' } as const;
const SEED = 7;
const WORKER = path.join('bench', 'export-worker.ts');
const SERVERS = path.join('bench', 'servers.ts');
const WORKER_TIMEOUT_MS = 60 * 60_000;

type Path = 'read' | ExportFormat;

export interface Size {
  readonly label: 'N' | 'N/10';
  readonly range: TimeRange;
  /** Events of the data set in the range, counted while loading. */
  readonly expected: number;
}

/**
 * `npm run bench -- export [--events N]`: exports N events (default 250,000) as CSV and as JSON
 * from the embedded DynamoDB to the embedded S3 (both in a process of their own) and, in the same
 * run and alternating with the exports, times a bare paginated read of the same items. Every
 * measurement is a fresh worker process (bench/export-worker.ts) that reports its time and its
 * own peak RSS; the same is done for the first N/10 events to show whether memory stays flat.
 *
 * Environment: KT_BENCH_SPANS=1 adds where each export's time goes (reading, uploading,
 * checkpoints); KT_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every worker into <dir>.
 */
export async function benchExport(options: { events?: number }): Promise<void> {
  const total = options.events ?? 250_000;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kt-bench-export-'));
  const servers = await startServers(dataDir);
  try {
    const { small } = await loadEvents(servers.endpoints.dynamodb, total);
    const sizes: Size[] = [{ label: 'N', range: RANGE, expected: total }, small];
    const spans = process.env.KT_BENCH_SPANS === '1';
    const task = (size: Size, mode: Path): WorkerTask => ({
      mode: mode === 'read' ? 'read' : 'export',
      endpoints: servers.endpoints,
      eventsTable: RESOURCES.eventsTable,
      controlTable: RESOURCES.controlTable,
      bucket: RESOURCES.bucket,
      range: size.range,
      ...(mode === 'read' ? { pageSize: READ_PAGE_SIZE } : { format: mode, spans }),
    });

    console.log(
      `export: ${formatCount(total)} events (N) and the first ${formatCount(small.expected)} (N/10), ` +
        `${ROUNDS} alternating rounds of bare read, CSV and JSON, each a fresh Node ${process.version} process`,
    );
    // Warms LevelDB's caches and the OS page cache so the first timed path is not the one to pay.
    const warm = await runWorker(task(sizes[0]!, 'read'));
    checkCount('warm-up bare read', warm.items, total);

    const results = new Map<string, WorkerReport[]>();
    const paths: Path[] = ['read', ...FORMATS];
    for (let round = 0; round < ROUNDS; round++) {
      // The order rotates each round so no path always runs right after the same other one.
      const order = paths.map((_, i) => paths[(i + round) % paths.length]!);
      for (const size of sizes) {
        for (const mode of order) {
          progress(`round ${round + 1}/${ROUNDS}: ${mode} ${size.label}`);
          const report = await runWorker(task(size, mode));
          const key = `${mode} ${size.label}`;
          results.set(key, [...(results.get(key) ?? []), report]);
          if (mode !== 'read') {
            const read = results.get(`read ${size.label}`)!;
            const readItems = read[read.length - 1]!.items;
            checkCount(`${mode} export of ${size.label} (round ${round + 1})`, report.items, readItems);
          } else {
            checkCount(`bare read of ${size.label} (round ${round + 1})`, report.items, size.expected);
          }
        }
      }
    }
    progress('');
    printResults(results, sizes);
  } finally {
    await servers.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function checkCount(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new Error(`${what} saw ${formatCount(actual)} events; the bare read saw ${formatCount(expected)}`);
  }
}

function printResults(results: Map<string, WorkerReport[]>, sizes: readonly Size[]): void {
  const get = (key: string) => results.get(key) ?? [];
  const sumMs = (reports: readonly WorkerReport[]) => reports.reduce((sum, r) => sum + r.ms, 0);
  const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
  const mibRange = (kib: readonly number[]) =>
    `${(Math.min(...kib) / 1024).toFixed(0)}–${(Math.max(...kib) / 1024).toFixed(0)}`;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS  <<<<<<<<');

  console.log('');
  console.log('Times are taken inside each worker process, from its first request to its last answer');
  console.log('(process start-up and module loading excluded); ratio = sum of export times / sum of bare');
  console.log(`read times over the rounds. Bare read: the event store's day/shard partitions and sk bounds,`);
  console.log(`one Query at a time, Limit ${READ_PAGE_SIZE}, same projection, items only counted.`);
  console.log(`Every worker runs with the ExportPage Lambda's V8 heap limits: ${EXPORT_PAGE_NODE_OPTIONS.join(' ')}.`);
  for (const format of FORMATS) {
    console.log('');
    console.log(`${format.toUpperCase()}`);
    const header = ['', 'events', 'export s', 'events/s', 'bare read s', 'ratio', `target ≤ ${RATIO_TARGET}`];
    const rows: string[][] = [header];
    for (const size of sizes) {
      const exports = get(`${format} ${size.label}`);
      const reads = get(`read ${size.label}`);
      const exportMs = sumMs(exports);
      const readMs = sumMs(reads);
      const ratio = exportMs / readMs;
      const perRound = exports.map((e, i) => (e.ms / reads[i]!.ms).toFixed(2)).join(' ');
      rows.push([
        size.label,
        formatCount(size.expected),
        (exportMs / 1000 / exports.length).toFixed(2),
        formatCount(Math.round((size.expected * exports.length) / (exportMs / 1000))),
        (readMs / 1000 / reads.length).toFixed(2),
        `${ratio.toFixed(2)} (rounds ${perRound})`,
        size.label === 'N' ? verdict(ratio <= RATIO_TARGET) : '(info)',
      ]);
    }
    printTable(rows);
    const atN = get(`${format} N`)[0];
    if (atN !== undefined) {
      console.log(
        `  (seconds are per export, the mean of ${ROUNDS} rounds; ${formatCount(atN.bytes ?? 0)} bytes in ` +
          `${atN.parts ?? 0} parts, ${atN.pageCalls ?? 0} ExportPage call(s))`,
      );
    }
    for (const report of get(`${format} N`)) {
      if (report.spans === undefined) continue;
      const spans = Object.entries(report.spans)
        .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)}s`)
        .join(', ');
      console.log(`  spans: ${spans}`);
    }
  }

  console.log('');
  console.log(`Peak RSS of the measuring process: median over ${ROUNDS} rounds (lowest–highest)`);
  const rssRows: string[][] = [['', 'at N', 'at N/10', 'N / (N/10)', `target ≤ ${RSS_TARGET}`]];
  for (const path of ['read', ...FORMATS] as const) {
    const atN = get(`${path} N`).map((r) => r.maxRssKiB);
    const atTenth = get(`${path} N/10`).map((r) => r.maxRssKiB);
    const ratio = median(atN) / median(atTenth);
    rssRows.push([
      path === 'read' ? 'bare read' : `${path.toUpperCase()} export`,
      `${mib(median(atN))} (${mibRange(atN)})`,
      `${mib(median(atTenth))} (${mibRange(atTenth)})`,
      ratio.toFixed(2),
      path === 'read' ? '(baseline, no target)' : verdict(ratio <= RSS_TARGET),
    ]);
  }
  printTable(rssRows);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === 0 || column === row.length - 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
    );
    console.log(`  ${cells.join('  ').trimEnd()}`);
  }
}

/** A progress line on a terminal only; an empty text clears it. */
export function progress(text: string): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r\x1b[K${text}`);
}

/**
 * Writes the data set with raw BatchWriteItem of the event store's own items (setup, not measured)
 * and finds the N/10 range: from the start of the data set to the instant of its N/10-th event.
 */
export async function loadEvents(
  endpoint: string,
  total: number,
  // The PDF bench gives a fifth of the events non-Latin names (bench/pdf.ts).
  transform: (event: DecisionEvent, index: number) => DecisionEvent = (event) => event,
): Promise<{ small: Size }> {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 10,
  });
  const documents = DynamoDBDocumentClient.from(client);
  const instants = new Float64Array(total);
  const events = generateDemoEvents({
    count: total,
    from: new Date(RANGE.from),
    to: new Date(RANGE.to),
    seed: SEED,
  });
  let generated = 0;
  let written = 0;
  const started = performance.now();
  const nextBatch = (): DecisionEvent[] => {
    const batch: DecisionEvent[] = [];
    for (let next = events.next(); !next.done; next = events.next()) {
      instants[generated] = Date.parse(next.value.timestamp);
      batch.push(transform(next.value, generated));
      generated += 1;
      if (batch.length === LOAD_BATCH) break;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      let requests = batch.map((event) => ({ PutRequest: { Item: { ...eventItem(event) } } }));
      while (requests.length > 0) {
        const out = await documents.send(
          new BatchWriteCommand({ RequestItems: { [RESOURCES.eventsTable]: requests } }),
        );
        requests = (out.UnprocessedItems?.[RESOURCES.eventsTable] ?? []) as typeof requests;
      }
      written += batch.length;
      if (written % 5000 < LOAD_BATCH) {
        const rate = written / ((performance.now() - started) / 1000);
        progress(`loading ${formatCount(written)} / ${formatCount(total)} events (${formatCount(Math.round(rate))}/s)`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: LOAD_IN_FLIGHT }, worker));
  } finally {
    client.destroy();
  }
  progress('');
  const seconds = (performance.now() - started) / 1000;
  console.log(`export: loaded ${formatCount(total)} events in ${seconds.toFixed(0)} s (setup, not measured)`);

  // Timestamps of whole seconds sort before later milliseconds of the same second, so the N/10-th
  // event in time order is found by sorting; its instant closes the range (to is inclusive).
  const sorted = instants.slice().sort();
  const tenth = Math.floor(total / 10);
  const last = sorted[tenth - 1]!;
  let expected = tenth;
  while (expected < total && sorted[expected] === last) expected += 1;
  return {
    small: { label: 'N/10', range: { from: RANGE.from, to: new Date(last).toISOString() }, expected },
  };
}

interface Servers {
  readonly endpoints: { readonly dynamodb: string; readonly s3: string };
  stop(): Promise<void>;
}

function tsxArgs(entry: string, extra: readonly string[] = []): string[] {
  return ['--import', 'tsx', ...extra, entry];
}

/** Starts bench/servers.ts and waits for its endpoints line. */
export function startServers(dataDir: string): Promise<Servers> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [...tsxArgs(SERVERS), dataDir, RESOURCES.eventsTable, RESOURCES.controlTable, RESOURCES.bucket],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((done) => child.once('close', () => done()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the bench servers did not start in time:\n${stderr}`));
    }, 60_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      const endpoints = JSON.parse(stdout.slice(0, newline)) as Servers['endpoints'];
      resolve({
        endpoints,
        stop: async () => {
          child.stdin!.end();
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bench servers exited with ${code} before they were ready:\n${stderr}`));
    });
  });
}

/** Runs one measurement in a fresh process and returns its report line. */
export function runWorker(
  task: WorkerTask,
  nodeOptions: readonly string[] = EXPORT_PAGE_NODE_OPTIONS,
): Promise<WorkerReport> {
  const profileDir = process.env.KT_BENCH_CPU_PROF;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  return new Promise((resolve, reject) => {
    // Every measuring process runs with the V8 heap limits the ExportPage Lambda is deployed with.
    const child = spawn(process.execPath, [...nodeOptions, ...tsxArgs(WORKER, profile), JSON.stringify(task)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), WORKER_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`the ${task.mode} ${task.format ?? ''} worker exited with ${code}:\n${stderr}${stdout}`));
        return;
      }
      resolve(JSON.parse(line) as WorkerReport);
    });
  });
}
