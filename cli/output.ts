/**
 * Shared output helpers: human text (the tutorial's wording and number formats) or one JSON
 * document per command for scripts (`-o json`). Results go to stdout; progress, warnings and
 * errors go to stderr.
 */

export const OUTPUT_FORMATS = ['human', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The streams and environment a command writes to; tests pass fakes. */
export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Human output unless `-o json` was asked for. TTY or not, the text is the same. */
export function isHumanOutput(format: OutputFormat | undefined): boolean {
  return format !== 'json';
}

/** Whether live progress (bars, spinners) may be drawn: human output and stderr is a terminal. */
export function canShowProgress(io: CliIo, format: OutputFormat | undefined): boolean {
  return isHumanOutput(format) && io.stderr.isTTY === true && io.env.CI === undefined;
}

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** `12500` → `12,500` (en-US grouping, as the tutorial writes record counts). */
export function formatCount(value: number): string {
  return COUNT.format(value);
}

/** `1, 'event'` → `1 event`; `12500, 'event'` → `12,500 events`. */
export function formatQuantity(count: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(count)} ${count === 1 ? noun : plural}`;
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/**
 * Decimal (SI) byte sizes as the tutorial writes them: `2300000` → `2.3 MB`, `999` → `999 B`,
 * `12500` → `12.5 kB`, `234000000` → `234 MB` (one decimal below 100 of a unit).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return `${bytes} B`;
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let unit = 0;
  let value = bytes;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  let text = value < 100 ? value.toFixed(1) : value.toFixed(0);
  // 999,950 B rounds to "1000.0 kB": move up a unit instead.
  if (Number(text) >= 1000 && unit < BYTE_UNITS.length - 1) {
    unit += 1;
    text = (value / 1000).toFixed(1);
  }
  return `${text} ${BYTE_UNITS[unit]}`;
}

/** Writes `✓ message` on stdout (the tutorial's success line). */
export function printSuccess(io: CliIo, message: string): void {
  io.stdout.write(`✓ ${message}\n`);
}

/** Writes one compact JSON document and a newline on stdout (for `-o json`). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Writes lines on stdout. */
export function printLines(io: CliIo, lines: readonly string[]): void {
  if (lines.length > 0) io.stdout.write(`${lines.join('\n')}\n`);
}

/** Writes `warning: message` on stderr. */
export function printWarning(io: CliIo, message: string): void {
  io.stderr.write(`warning: ${message}\n`);
}

/** `[['Job ID', 'exp_1'], ['Format', 'json']]` → `['Job ID: exp_1', 'Format: json']` (tutorial style). */
export function formatFields(
  fields: readonly (readonly [label: string, value: string | undefined])[],
): string[] {
  return fields.filter(([, value]) => value !== undefined).map(([label, value]) => `${label}: ${value}`);
}

export type ColumnAlign = 'left' | 'right';

export interface ColumnOptions {
  /** Per column; default left. Numbers read best right-aligned. */
  readonly align?: readonly ColumnAlign[];
  /** Spaces between columns (default 2). */
  readonly gap?: number;
}

/**
 * Aligns rows (the first one is usually the header) into columns padded to the widest cell.
 * Lines carry no trailing spaces. Widths count code points, so `→` or `é` take one column.
 */
export function formatColumns(rows: readonly (readonly string[])[], options: ColumnOptions = {}): string[] {
  const gap = ' '.repeat(options.gap ?? 2);
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  return rows.map((row) => {
    const cells = row.map((cell, i) => {
      const pad = ' '.repeat((widths[i] ?? 0) - displayWidth(cell));
      return options.align?.[i] === 'right' ? pad + cell : cell + pad;
    });
    return cells.join(gap).trimEnd();
  });
}

function displayWidth(text: string): number {
  return [...text].length;
}
