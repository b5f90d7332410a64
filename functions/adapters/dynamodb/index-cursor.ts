import { ValidationError } from '../../core/errors.ts';

/**
 * List cursors over gsi1 (jobs, tokens: newest first without a scan). The cursor is the index
 * position of the last item shown, base64url JSON; a caller can only hand back one we made, so
 * anything else (another list's cursor, an edited one) is refused rather than passed to DynamoDB.
 */

/** What a valid cursor of one list looks like. */
export interface IndexCursorShape {
  /** gsi1pk of every item in the list. */
  readonly partition: string;
  /** The base table sk of every item in the list. */
  readonly sk: string;
  readonly pk: RegExp;
  readonly gsi1sk: RegExp;
}

const NAMES = ['pk', 'sk', 'gsi1pk', 'gsi1sk'] as const;

export function encodeIndexCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeIndexCursor(cursor: string, shape: IndexCursorShape): Record<string, unknown> {
  const invalid = () =>
    new ValidationError('The cursor is invalid.', [
      { field: 'cursor', rule: 'must be a cursor returned by a previous page of this list' },
    ]);
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const record = key as Record<string, unknown>;
  if (
    typeof key !== 'object' ||
    key === null ||
    Array.isArray(key) ||
    Object.keys(record).length !== NAMES.length ||
    !NAMES.every((name) => typeof record[name] === 'string') ||
    record.gsi1pk !== shape.partition ||
    record.sk !== shape.sk ||
    !shape.pk.test(String(record.pk)) ||
    !shape.gsi1sk.test(String(record.gsi1sk))
  ) {
    throw invalid();
  }
  return record;
}
