import type { FieldIssue } from '../functions/core/errors.ts';
import { oneLine, UsageError } from './errors.ts';

/**
 * The CLI checks a request with the API's own schema (functions/core/…) before it sends it: a
 * flag value the API would refuse is a usage error (exit 2) naming the flag, and nothing is sent.
 */

/**
 * Throws a UsageError for the first issue, its field named by the flag that set it (`title` →
 * `--title`; `filters.team` → `--filter-team`; `scopes[1]` → the flag of `scopes`).
 */
export function refuseIssues(issues: readonly FieldIssue[], flagFor: Readonly<Record<string, string>>): void {
  const issue = issues[0];
  if (issue === undefined) return;
  const flag = flagFor[issue.field] ?? flagFor[issue.field.split(/[.[]/)[0] ?? ''] ?? issue.field;
  throw new UsageError(oneLine(`${flag} ${issue.rule}`));
}
