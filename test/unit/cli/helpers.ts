import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../../cli/output.ts';
import { validEvent } from '../../support/decision-events.ts';
import { rejection as rejectionOf } from '../../support/rejection.ts';

/** A valid decision event; `n` makes the id unique. */
export function event(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return validEvent({ id: `evt_${n}`, ...overrides });
}

export function jsonLines(values: readonly unknown[]): string {
  return `${values.map((v) => JSON.stringify(v)).join('\n')}\n`;
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir(): {
  path: (name: string) => string;
  write: (name: string, text: string) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-test-'));
  return {
    path: (name) => join(dir, name),
    write: (name, text) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Streams that record what a command writes. */
export function memoryIo(
  env: Record<string, string | undefined> = {},
  tty = false,
): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s), isTTY: tty },
    stderr: { write: (s: string) => (err += s), isTTY: tty },
    env,
    out: () => out,
    err: () => err,
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** The rejection of a promise (fails the test if it resolves or rejects with a non-Error). */
export function rejection(promise: Promise<unknown>): Promise<Error> {
  return rejectionOf(promise, Error);
}
