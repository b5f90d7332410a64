import { ValidationError } from '../errors.ts';
import { csvEncoder } from './csv-encoder.ts';
import type { ExportEncoder } from './encoder.ts';
import { DOCUMENTED_FORMATS, EXPORT_FORMATS, type ExportFormat } from './export-metadata.ts';
import { jsonEncoder } from './json-encoder.ts';

const ENCODERS: Readonly<Record<ExportFormat, ExportEncoder>> = { json: jsonEncoder, csv: csvEncoder };

/** Formats the product documents but this build cannot write yet; they get their own message. */
const PLANNED_FORMATS: readonly string[] = DOCUMENTED_FORMATS.filter((format) => !isExportFormat(format));

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** The encoder for a format named by untrusted input; a ValidationError on `format` otherwise. */
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
