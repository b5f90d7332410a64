import type { AuditEntry, AuditHead } from '../../functions/core/audit/audit-chain.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { oneLine, UsageError } from '../errors.ts';
import { toSecond } from '../export/render.ts';
import { formatColumns, isHumanOutput, printJson, printLines } from '../output.ts';
import { createProgress } from '../progress.ts';
import { type AuditApi, type AuditQuery, auditApi } from './audit-api.ts';
import {
  actionFlag,
  instantFlag,
  MAX_AUDIT_LIMIT,
  nonBlankFlag,
  parseAuditLimit,
  seqFlag,
} from './audit-flags.ts';

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
  const query = auditQueryOf(flags);
  if (flags.all === true && query.cursor !== undefined)
    throw new UsageError('--all and --cursor cannot be combined');
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
  const fromSeq = seqFlag('--from-seq', flags.fromSeq);
  const toSeq = seqFlag('--to-seq', flags.toSeq);
  if (fromSeq !== undefined && toSeq !== undefined && fromSeq > toSeq) {
    throw new UsageError(`--from-seq must not be greater than --to-seq (got ${fromSeq} > ${toSeq})`);
  }
  const since = instantFlag('--since', flags.since);
  const until = instantFlag('--until', flags.until);
  if (since !== undefined && until !== undefined && Date.parse(since) > Date.parse(until)) {
    throw new UsageError(`--since must not be later than --until (got ${since} → ${until})`);
  }
  const action = actionFlag(flags.action);
  const subject = nonBlankFlag('--subject', flags.subject);
  const cursor = nonBlankFlag('--cursor', flags.cursor);
  const limit = flags.limit === undefined ? undefined : parseAuditLimit(flags.limit);
  return {
    ...(fromSeq !== undefined && { fromSeq }),
    ...(toSeq !== undefined && { toSeq }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
    ...(action !== undefined && { action }),
    ...(subject !== undefined && { subject }),
    ...(limit !== undefined && { limit }),
    ...(cursor !== undefined && { cursor }),
  };
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
