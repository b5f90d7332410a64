import cliProgress from 'cli-progress';
import { type CliIo, canShowProgress, formatBytes, formatCount, type OutputFormat } from './output.ts';

/**
 * Progress for long commands: a cli-progress bar on stderr when stderr is a terminal and the
 * output is human, otherwise nothing (stdout stays clean for scripts and pipes).
 */
export interface ProgressReporter {
  start(label: string, total: number, unit: 'bytes' | 'events'): void;
  increment(amount: number): void;
  stop(): void;
}

export const noProgress: ProgressReporter = {
  start() {},
  increment() {},
  stop() {},
};

export function createProgress(io: CliIo, format: OutputFormat | undefined): ProgressReporter {
  if (!canShowProgress(io, format)) return noProgress;
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total, unit) {
      bar?.stop();
      const show = unit === 'bytes' ? formatBytes : formatCount;
      bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(10)} {bar} {percentage}% | {value} of {total}${unit === 'events' ? ' events' : ''} | {eta_formatted} left`,
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
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
