import { ValidationError } from '../errors.ts';
import { csvEncoder } from './csv-encoder.ts';
import type { ExportEncoder } from './encoder.ts';
import { DOCUMENTED_FORMATS, EXPORT_FORMATS, type ExportFormat } from './export-metadata.ts';
import { jsonEncoder } from './json-encoder.ts';

/**
 * The encoder of the rows each format's job writes page by page. A PDF job writes the companion
 * CSV (every record) while paging; RenderReport then draws the PDF from the events
 * (report/render-report.ts), so the PDF itself has no row encoder.
 */
const ENCODERS: Readonly<Record<ExportFormat, ExportEncoder>> = { json: jsonEncoder, csv: csvEncoder, pdf: csvEncoder };

/** Media type of each format's artifact, for its upload, download and delivery. */
const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  json: jsonEncoder.contentType,
  csv: csvEncoder.contentType,
  pdf: 'application/pdf',
};

export function contentTypeOf(format: ExportFormat): string {
  return CONTENT_TYPES[format];
}

/** Formats the product documents but this build cannot write yet; they get their own message. */
const PLANNED_FORMATS: readonly string[] = DOCUMENTED_FORMATS.filter((format) => !isExportFormat(format));

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value);
}

/**
 * The row encoder for a format named by untrusted input (for `pdf`, its companion CSV's); a
 * ValidationError on `format` otherwise. The artifact's media type is contentTypeOf's.
 */
export function encoderFor(format: unknown): ExportEncoder {
  if (isExportFormat(format)) return ENCODERS[format];
  const supported = EXPORT_FORMATS.join(', ');
  if (typeof format === 'string' && PLANNED_FORMATS.includes(format)) {
    throw new ValidationError(`The ${format} export format is not yet supported.`, [
      { field: 'format', rule: `${format} is not yet supported; use one of ${supported}` },
    ]);
  }
  throw new ValidationError('The export format is invalid.', [
    { field: 'format', rule: `must be one of ${supported}` },
  ]);
}
