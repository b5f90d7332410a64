import type { AuditEntry, AuditHead } from '../../functions/core/audit/audit-chain.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { oneLine, UsageError } from '../errors.ts';
import { toSecond } from '../export/render.ts';
import { formatColumns, isHumanOutput, printJson, printLines } from '../output.ts';
import { createProgress } from '../progress.ts';
import { type AuditApi, type AuditQuery, auditApi, FLAG_FOR_FIELD } from './audit-api.ts';
import {
  auditQueryIssues,
  MAX_AUDIT_LIMIT,
  SEQ_ORDER_RULE,
  TIME_ORDER_RULE,
} from '../../functions/core/audit/read-audit.ts';
import { refuseIssues } from '../request-checks.ts';
import { nonBlankFlag } from './audit-flags.ts';

/**
 * `kt audit list`: entries of the audit trail in chain order, as an aligned table or, with
 * `-o json`, the API's document (entries exactly as stored) for scripts and for `kt audit verify --file`.
 */

export interface ListAuditFlags {
  readonly fromSeq?: string;
  readonly toSeq?: string;
  readonly since?: string;
  readonly until?: string;
  readonly action?: string;
  readonly subject?: string;
  readonly limit?: string;
  readonly cursor?: string;
  readonly all?: boolean;
}

export async function listAudit(
  context: CliContext,
  globals: GlobalOptions,
  flags: ListAuditFlags,
): Promise<void> {
  // Before the flags' values: whatever the cursor, the two do not go together.
  if (flags.all === true && flags.cursor !== undefined) throw new UsageError('--all and --cursor cannot be combined');
  const query = auditQueryOf(flags);
  const api = auditApi(apiClientFor(context, globals));
  const human = isHumanOutput(globals.outputFormat);

  if (flags.all === true) {
    const { entries, head } = await fetchAll(context, globals, api, query);
    if (!human) printJson(context.io, { entries, head });
    else printTable(context, entries, false);
    return;
  }
  const page = await api.page(query);
  if (!human) {
    printJson(context.io, page);
    return;
  }
  printTable(context, page.entries, query.cursor !== undefined);
  // On stderr, so the table on stdout stays exactly the table.
  if (page.cursor !== undefined) {
    context.io.stderr.write(
      `More entries: add --cursor ${shellWord(page.cursor)} (or --all for every page)\n`,
    );
  }
}

/**
 * Every page of a query, following cursors; a progress bar on a terminal when the chain is long.
 * The total is the chain's length from the first seq asked for: filters make it an upper bound.
 */
export async function fetchAll(
  context: CliContext,
  globals: GlobalOptions,
  api: AuditApi,
  query: AuditQuery,
): Promise<{ entries: AuditEntry[]; head: AuditHead }> {
  const progress = createProgress(context.io, globals.outputFormat);
  const entries: AuditEntry[] = [];
  let cursor = query.cursor;
  let started = false;
  try {
    for (;;) {
      const page = await api.page({
        ...query,
        limit: query.limit ?? MAX_AUDIT_LIMIT,
        ...(cursor === undefined ? {} : { cursor }),
      });
      entries.push(...page.entries);
      const last = (page.entries.at(-1) as { seq?: unknown } | undefined)?.seq;
      if (!started) {
        const from = (query.fromSeq ?? 1) - 1;
        const upTo = Math.min(query.toSeq ?? page.head.seq, page.head.seq);
        // Only worth a bar when there is more than one page to fetch.
        if (page.cursor !== undefined && upTo - from > 0) progress.start('Fetching', upTo - from, 'entries');
        started = true;
      }
      if (typeof last === 'number') progress.update(last - ((query.fromSeq ?? 1) - 1));
      if (page.cursor === undefined) return { entries, head: page.head };
      cursor = page.cursor;
    }
  } finally {
    progress.stop();
  }
}

export function auditQueryOf(flags: ListAuditFlags): AuditQuery {
  const given = {
    fromSeq: flags.fromSeq?.trim(),
    toSeq: flags.toSeq?.trim(),
    since: flags.since?.trim(),
    until: flags.until?.trim(),
    action: flags.action?.trim(),
    // Blank is refused here: the API reads an empty parameter as absent, which would list everything.
    subject: nonBlankFlag('--subject', flags.subject),
    cursor: nonBlankFlag('--cursor', flags.cursor),
    limit: flags.limit?.trim(),
  };
  const parameters = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  // The API's own rules, so nothing is sent that it would refuse; a rule between two parameters
  // names both flags, with the values given.
  const issues = auditQueryIssues(parameters);
  const order = issues.find((issue) => issue.rule === SEQ_ORDER_RULE || issue.rule === TIME_ORDER_RULE);
  if (order?.rule === SEQ_ORDER_RULE) {
    throw new UsageError(`--from-seq must not be greater than --to-seq (got ${given.fromSeq} > ${given.toSeq})`);
  }
  if (order?.rule === TIME_ORDER_RULE) {
    throw new UsageError(`--since must not be later than --until (got ${given.since} → ${given.until})`);
  }
  refuseIssues(issues, FLAG_FOR_FIELD);
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  return {
    ...(given.fromSeq !== undefined && { fromSeq: number(given.fromSeq) }),
    ...(given.toSeq !== undefined && { toSeq: number(given.toSeq) }),
    ...(given.since !== undefined && { since: given.since }),
    ...(given.until !== undefined && { until: given.until }),
    ...(given.action !== undefined && { action: given.action }),
    ...(given.subject !== undefined && { subject: given.subject }),
    ...(given.limit !== undefined && { limit: number(given.limit) }),
    ...(given.cursor !== undefined && { cursor: given.cursor }),
  } as AuditQuery;
}

/** The `kt audit list` table: SEQ right-aligned, times to the second, every value on one line. */
export function auditTable(entries: readonly AuditEntry[]): string[] {
  const rows = entries.map((entry) => [
    String(entry.seq),
    toSecond(String(entry.at)),
    oneLine(String(entry.action)),
    oneLine(String(entry.subject)),
    oneLine(String(entry.actor)),
  ]);
  return formatColumns([['SEQ', 'AT', 'ACTION', 'SUBJECT', 'ACTOR'], ...rows], {
    align: ['right', 'left', 'left', 'left', 'left'],
  });
}

function printTable(context: CliContext, entries: readonly AuditEntry[], continued: boolean): void {
  if (entries.length > 0) printLines(context.io, auditTable(entries));
  else context.io.stdout.write(continued ? 'No more entries.\n' : 'No audit entries match.\n');
}

/** A cursor is opaque: quote it when a shell would otherwise split or expand it. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
