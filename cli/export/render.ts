import { oneLine } from '../errors.ts';
import { formatBytes, formatColumns, formatCount, formatFields } from '../output.ts';
import type { ExportJobView } from './job-view.ts';

/**
 * Human text for export jobs, worded and ordered as the tutorial shows. Every value from the API
 * passes through `oneLine` first: a title or failure reason must not be able to move the cursor or
 * break the one-field-per-line shape that people grep.
 */

const TO_THE_SECOND = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/;

/**
 * `2026-04-23T14:30:00.123Z` → `2026-04-23T14:30:00Z`. Truncated, not rounded: a printed time
 * must never be later than the moment it records.
 */
export function toSecond(instant: string): string {
  const exact = TO_THE_SECOND.exec(instant);
  if (exact) return `${exact[1]}Z`;
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) return oneLine(instant);
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/**
 * The lines under `✓ Export job created`; Title, Team and Policy only when set. An export with a
 * delivery prints the tutorial's Step 8 block: Job ID, Format, Delivery, Status.
 */
export function createdLines(view: ExportJobView): string[] {
  if (view.delivery !== undefined) {
    return formatFields([
      ['Job ID', oneLine(view.id)],
      ['Format', oneLine(view.format)],
      ['Delivery', oneLine(view.delivery.location)],
      ['Status', view.status],
      ['Title', optional(view.title)],
      ['Team', optional(view.filters?.team)],
      ['Policy', optional(view.filters?.policy)],
    ]);
  }
  return formatFields([
    ['Job ID', oneLine(view.id)],
    ['Format', oneLine(view.format)],
    ['Status', view.status],
    ['Range', `${oneLine(view.range.from)} → ${oneLine(view.range.to)}`],
    ['Title', optional(view.title)],
    ['Team', optional(view.filters?.team)],
    ['Policy', optional(view.filters?.policy)],
  ]);
}

/** The `kt export status` block. */
export function statusLines(view: ExportJobView): string[] {
  // `completed` is when the job reached its outcome, so a failed job shows it as when it failed;
  // a deleted job keeps the label of the outcome it had before.
  const outcome = view.status === 'failed' || view.error !== undefined ? 'Failed' : 'Completed';
  return formatFields([
    ['Export', oneLine(view.id)],
    ['Status', view.status],
    [
      'Progress',
      view.status === 'running' && view.progress ? `${wholePercent(view.progress.percent)}%` : undefined,
    ],
    ['Format', oneLine(view.format)],
    ['Records', formatCount(view.records)],
    ['File size', view.bytes === undefined ? undefined : formatBytes(view.bytes)],
    [
      'Companion',
      view.companion === undefined
        ? undefined
        : `${oneLine(view.companion.name)} (${formatBytes(view.companion.bytes)}, every record; kt export download --companion)`,
    ],
    ['Created', toSecond(view.created)],
    [outcome, view.completed === undefined ? undefined : toSecond(view.completed)],
    ['Cancelled', view.cancelled === undefined ? undefined : toSecond(view.cancelled)],
    ['Deleted', view.deleted === undefined ? undefined : toSecond(view.deleted)],
    ['Delivery', deliveryLine(view)],
    ['Error', view.error === undefined ? undefined : oneLine(view.error.reason) || 'unknown'],
  ]);
}

/**
 * `s3://bucket/prefix<id>.<format> (delivered)`, `(pending)` or `(failed: reason)`: the object
 * the delivery writes, and how it went.
 */
export function deliveryLine(view: ExportJobView): string | undefined {
  const delivery = view.delivery;
  if (delivery === undefined) return undefined;
  const uri = oneLine(delivery.objectUri ?? `${delivery.location}${view.id}.${view.format}`);
  if (delivery.status === 'failed') return `${uri} (failed: ${oneLine(delivery.error ?? '') || 'unknown'})`;
  return `${uri} (${delivery.status})`;
}

/** The `kt export list` table: a header and one aligned row per job, counts right-aligned. */
export function listLines(jobs: readonly ExportJobView[]): string[] {
  // Runs of a schedule name it in a last column; a page without any keeps the tutorial's table.
  const scheduled = jobs.some((view) => view.schedule !== undefined);
  const rows = jobs.map((view) => [
    oneLine(view.id),
    oneLine(view.format),
    view.status,
    formatCount(view.records),
    toSecond(view.created),
    ...(scheduled ? [view.schedule === undefined ? '-' : oneLine(view.schedule)] : []),
  ]);
  return formatColumns([['ID', 'Format', 'Status', 'Records', 'Created', ...(scheduled ? ['Schedule'] : [])], ...rows], {
    align: ['left', 'left', 'left', 'right', 'left', 'left'],
  });
}

/** 0..100 as a whole number, rounded down so a running job never reads 100%. */
export function wholePercent(percent: number): number {
  if (!Number.isFinite(percent)) return 0;
  return Math.min(100, Math.max(0, Math.floor(percent)));
}

function optional(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : oneLine(value);
}
