import cliProgress from 'cli-progress';
import { type CliIo, canShowProgress, formatBytes, formatCount, type OutputFormat } from './output.ts';

export type ProgressUnit = 'bytes' | 'events' | 'entries' | 'percent';

/**
 * Progress for long commands: a cli-progress bar on stderr when stderr is a terminal and the
 * output is human, otherwise nothing (stdout stays clean for scripts and pipes).
 */
export interface ProgressReporter {
  start(label: string, total: number, unit: ProgressUnit): void;
  increment(amount: number): void;
  /** Sets the absolute value, for progress that is polled rather than counted (a job's percent). */
  update(value: number): void;
  stop(): void;
}

export const noProgress: ProgressReporter = {
  start() {},
  increment() {},
  update() {},
  stop() {},
};

export function createProgress(io: CliIo, format: OutputFormat | undefined): ProgressReporter {
  if (!canShowProgress(io, format)) return noProgress;
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total, unit) {
      bar?.stop();
      const show = unit === 'bytes' ? formatBytes : formatCount;
      // A percent needs no "42 of 100" and has no meaningful ETA (it comes from polling).
      const detail =
        unit === 'percent'
          ? ''
          : ` | {value} of {total}${unit === 'bytes' ? '' : ` ${unit}`} | {eta_formatted} left`;
      bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(10)} {bar} {percentage}%${detail}`,
          stream: io.stderr as NodeJS.WritableStream,
          hideCursor: false, // a Ctrl-C must not leave the terminal without a cursor
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 10,
          formatValue: (value, options, type) =>
            type === 'value' || type === 'total'
              ? show(Number(value))
              : cliProgress.Format.ValueFormat(value, options, type),
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(total, 1), 0);
    },
    increment(amount) {
      bar?.increment(amount);
    },
    update(value) {
      bar?.update(value);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
