import { oneLine, UsageError } from '../errors.ts';

/**
 * Checks of `kt audit` flag values that are not API query parameters (`kt audit verify`'s) or that
 * the API would read differently (a blank value), each a UsageError (exit 2) naming the flag.
 * `kt audit list` checks its query with the API's own schema (list-action.ts).
 */

const MAX_SEQ = 10 ** 12 - 1;

/** `--from-seq` / `--to-seq`: a seq of the chain, from 1. */
export function seqFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!/^\d{1,12}$/.test(text) || Number(text) < 1) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${MAX_SEQ} (got "${oneLine(value)}")`);
  }
  return Number(text);
}

/** A value that must not be blank when given (`--subject`, `--cursor`, file paths). */
export function nonBlankFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value.trim();
}
