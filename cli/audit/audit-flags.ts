import { AUDIT_ACTIONS } from '../../functions/core/audit/audit-chain.ts';
import { isoUtcTimestamp } from '../../functions/core/events/decision-event.ts';
import { oneLine, UsageError } from '../errors.ts';

/**
 * Checks of `kt audit` flag values, each a UsageError (exit 2) naming the flag, so nothing is sent
 * to the API for a command line that is wrong. The rules are the API's own.
 */

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;
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

/** `--since` / `--until`: ISO 8601 UTC instants, compared with each entry's `at`. */
export function instantFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!isoUtcTimestamp.safeParse(text).success) {
    throw new UsageError(
      `${flag} must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (got "${oneLine(value)}")`,
    );
  }
  return text;
}

/** `--action`: one of the audit actions, or a prefix ending in `.` such as `export.`. */
export function actionFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const known = (AUDIT_ACTIONS as readonly string[]).includes(text);
  const prefix = text.endsWith('.') && AUDIT_ACTIONS.some((action) => action.startsWith(text));
  if (!known && !prefix) {
    throw new UsageError(
      `--action must be one of ${AUDIT_ACTIONS.join(', ')}, or a prefix such as export. (got "${oneLine(value)}")`,
    );
  }
  return text;
}

/** `--limit`: entries per page. */
export function parseAuditLimit(value: string): number {
  const text = value.trim();
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT} (got "${oneLine(value)}")`,
    );
  }
  return limit;
}

/** A value that must not be blank when given (`--subject`, `--cursor`, file paths). */
export function nonBlankFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value.trim();
}
