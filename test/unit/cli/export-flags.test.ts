import {
  cursorFlag,
  exportIdFlag,
  filterFlag,
  idempotencyKeyFlag,
  outputFlag,
  rangeFlags,
  titleFlag,
} from '../../../cli/export/flags.ts';
import { exitCodeFor, UsageError } from '../../../cli/errors.ts';
import { ID } from './export-fixtures.ts';

/** The usage error (exit 2) a flag check throws, or a failure if it does not throw one. */
function usageError(check: () => unknown): string {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeFor(error)).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('rangeFlags', () => {
  it('returns the range exactly as given', () => {
    expect(rangeFlags('2026-04-16T00:00:00Z', '2026-04-23T23:59:59.5Z')).toEqual({
      from: '2026-04-16T00:00:00Z',
      to: '2026-04-23T23:59:59.5Z',
    });
  });

  it('names the flag that is wrong', () => {
    expect(usageError(() => rangeFlags('2026-04-16', '2026-04-23T23:59:59Z'))).toBe(
      '--from must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (got "2026-04-16")',
    );
    expect(usageError(() => rangeFlags('2026-04-16T00:00:00Z', '2026-02-30T00:00:00Z'))).toBe(
      '--to must be a real calendar date and time (got "2026-02-30T00:00:00Z")',
    );
    expect(usageError(() => rangeFlags('2026-04-23T00:00:00Z', '2026-04-16T00:00:00Z'))).toBe(
      '--from must not be later than --to (got 2026-04-23T00:00:00Z → 2026-04-16T00:00:00Z)',
    );
  });
});

describe('filterFlag', () => {
  it('accepts either spelling, or both when they agree', () => {
    expect(filterFlag('team', 'engineering', undefined)).toBe('engineering');
    expect(filterFlag('team', undefined, 'engineering')).toBe('engineering');
    expect(filterFlag('policy', 'pii', 'pii')).toBe('pii');
    expect(filterFlag('policy', undefined, undefined)).toBeUndefined();
  });

  it('refuses two different values and empty ones', () => {
    expect(usageError(() => filterFlag('policy', 'pii', 'dlp'))).toBe(
      '--filter-policy and --policy are the same filter; give it once (got "pii" and "dlp")',
    );
    expect(usageError(() => filterFlag('team', undefined, ' '))).toBe('--filter-team must not be empty');
  });
});

describe('exportIdFlag', () => {
  it('accepts the ids the API issues', () => {
    expect(exportIdFlag(ID)).toBe(ID);
    expect(exportIdFlag(` ${ID}\n`)).toBe(ID);
  });

  it.each([
    'exp_abc123',
    'exp_01JQ8M3K7B5X9C2D4F6H',
    'exp_01jq8m3k7b5x9c2d4f6i', // i is not in the alphabet
    'evt_01jq8m3k7b5x9c2d4f6h',
    '',
  ])('refuses %j', (id) => {
    expect(usageError(() => exportIdFlag(id))).toMatch(/^--id must be an export id: exp_ and 20 characters/);
  });
});

describe('other flags', () => {
  it('checks the idempotency key, title, output and cursor', () => {
    expect(idempotencyKeyFlag('3f1c2a9e-0d7b-4c55-8a43-0c1e6a1f2b3c')).toBe(
      '3f1c2a9e-0d7b-4c55-8a43-0c1e6a1f2b3c',
    );
    expect(usageError(() => idempotencyKeyFlag('two words'))).toMatch(/^--idempotency-key must be/);
    expect(usageError(() => idempotencyKeyFlag('x'.repeat(256)))).toMatch(/^--idempotency-key must be/);
    expect(usageError(() => titleFlag('  '))).toBe('--title must not be empty');
    expect(titleFlag(undefined)).toBeUndefined();
    expect(usageError(() => outputFlag(''))).toBe('--output must name a file or directory');
    expect(usageError(() => cursorFlag(''))).toMatch(/^--cursor must be/);
    expect(cursorFlag(' abc ')).toBe('abc');
  });
});
