import { createHash } from 'node:crypto';
import type { FieldIssue } from '../../functions/core/errors.ts';
import { canonicalEventJson, parseDecisionEvent } from '../../functions/core/events/decision-event.ts';
import { describePosition, type EventFileFormat, readEventFile } from '../event-file.ts';

/**
 * Pass 1 of `kt events import`: validates the whole file with the shared decision-event schema
 * before anything is uploaded (pass 2, ./upload.ts).
 */

export interface InvalidEvent {
  readonly position: number;
  readonly issues: readonly FieldIssue[];
}

/** Where each event id first occurs, and a digest of its content there. */
export class EventIndex {
  readonly #first = new Map<string, { readonly position: number; readonly digest: number }>();

  get size(): number {
    return this.#first.size;
  }

  /** Records an id; returns the first occurrence when the id was seen before. */
  add(id: string, position: number, digest: number): { position: number; digest: number } | undefined {
    const seen = this.#first.get(id);
    if (seen === undefined) this.#first.set(id, { position, digest });
    return seen;
  }

  /** Whether this record is the one to upload for its id (later identical repeats are skipped). */
  isFirst(id: string, position: number): boolean | undefined {
    const seen = this.#first.get(id);
    return seen === undefined ? undefined : seen.position === position;
  }
}

export interface ValidationReport {
  readonly file: string;
  readonly format: EventFileFormat;
  /** Values read from the file. */
  readonly total: number;
  /** Events that pass 2 uploads (valid, first occurrence of their id). */
  readonly distinct: number;
  /** Exact repeats of an earlier event (same id, same content): skipped, as the API would. */
  readonly duplicates: number;
  /** Events with at least one problem. */
  readonly invalid: number;
  /** The first `maxProblems` invalid events, in file order. */
  readonly problems: readonly InvalidEvent[];
  readonly index: EventIndex;
}

export interface ValidateOptions {
  readonly format: EventFileFormat;
  readonly maxProblems?: number;
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Reads the whole file once and checks every event with `parseDecisionEvent`, plus what only a
 * whole-file view can see: the same id with different content. Memory grows with the number of
 * distinct ids (a small entry each), never with the file.
 */
export async function validateEventFile(path: string, options: ValidateOptions): Promise<ValidationReport> {
  const maxProblems = options.maxProblems ?? 10;
  const index = new EventIndex();
  const problems: InvalidEvent[] = [];
  let total = 0;
  let invalid = 0;
  let duplicates = 0;

  const report = (position: number, issues: readonly FieldIssue[]) => {
    invalid += 1;
    if (problems.length < maxProblems) problems.push({ position, issues });
  };

  for await (const { position, value } of readEventFile(path, {
    format: options.format,
    onBytes: options.onBytes,
  })) {
    total += 1;
    const parsed = parseDecisionEvent(value);
    if (!parsed.ok) {
      report(position, parsed.issues);
      continue;
    }
    const digest = contentDigest(canonicalEventJson(parsed.event));
    const seen = index.add(parsed.event.id, position, digest);
    if (seen === undefined) continue;
    if (seen.digest === digest) {
      duplicates += 1;
    } else {
      report(position, [
        {
          field: 'id',
          rule: `repeats the id of ${describePosition(options.format, seen.position)} with different content`,
        },
      ]);
    }
  }
  return {
    file: path,
    format: options.format,
    total,
    distinct: total - invalid - duplicates,
    duplicates,
    invalid,
    problems,
    index,
  };
}

/** 48 bits of SHA-256: equal content always matches; a collision (≈2⁻⁴⁸) could only hide a conflict. */
function contentDigest(json: string): number {
  return createHash('sha256').update(json).digest().readUIntBE(0, 6);
}

/** `line 12: timestamp must be ...; tokens is required` */
export function formatInvalidEvent(format: EventFileFormat, problem: InvalidEvent): string {
  const required = problem.issues.filter((issue) => issue.rule === 'is required').map((issue) => issue.field);
  const parts: string[] = [];
  let requiredShown = false;
  for (const issue of problem.issues) {
    if (issue.rule === 'is required' && required.length > 1) {
      // `timestamp, model and team are required` instead of one clause per missing field
      if (!requiredShown)
        parts.push(`${required.slice(0, -1).join(', ')} and ${required.at(-1)} are required`);
      requiredShown = true;
    } else {
      parts.push(
        issue.field === '(event)' || issue.field === ''
          ? `event ${issue.rule}`
          : `${issue.field} ${issue.rule}`,
      );
    }
  }
  return `${describePosition(format, problem.position)}: ${parts.join('; ')}`;
}
