import type { EventFilter } from '../events/event-filter.ts';
import type { ExportJob } from './export-job.ts';
import type { ExportMetadata } from './export-metadata.ts';

/**
 * What an export job means for its artifact: where it is stored, what it is called when
 * downloaded, which events it selects and what its header says. Pure functions of the job, so
 * every step (and every retry of a step) derives the same answers.
 */

/** `exports/<id>/<id>.<format>`: one folder per export, so its manifest can sit beside it. */
export function artifactKeyOf(job: Pick<ExportJob, 'id' | 'format'>): string {
  return `exports/${job.id}/${artifactFilenameOf(job)}`;
}

export function artifactFilenameOf(job: Pick<ExportJob, 'id' | 'format'>): string {
  return `${job.id}.${job.format}`;
}

/**
 * Where ExportPage writes a job's rows: the artifact itself, or for a PDF job its companion CSV
 * (`exports/<id>/<id>.csv`, every record), from which the report is drawn and which the report
 * names wherever its table stops short.
 */
export function rowsKeyOf(job: Pick<ExportJob, 'id' | 'format'>): string {
  return job.format === 'pdf' ? companionKeyOf(job) : artifactKeyOf(job);
}

export function companionKeyOf(job: Pick<ExportJob, 'id'>): string {
  return `exports/${job.id}/${companionFilenameOf(job)}`;
}

export function companionFilenameOf(job: Pick<ExportJob, 'id'>): string {
  return `${job.id}.csv`;
}

export function eventFilterOf(job: ExportJob): EventFilter {
  return {
    from: job.range.from,
    to: job.range.to,
    ...(job.filters.team === undefined ? {} : { team: job.filters.team }),
    ...(job.filters.policy === undefined ? {} : { policy: job.filters.policy }),
  };
}

/** `generated_at` is the job's creation time, so a resumed or retried run writes the same bytes. */
export function exportMetadataOf(job: ExportJob): ExportMetadata {
  return {
    id: job.id,
    ...(job.title === undefined ? {} : { title: job.title }),
    range: job.range,
    filters: job.filters,
    format: job.format,
    generated_at: job.createdAt,
  };
}
