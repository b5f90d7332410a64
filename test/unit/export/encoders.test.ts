import { ValidationError } from '../../../functions/core/errors.ts';
import { csvEncoder } from '../../../functions/core/export/csv-encoder.ts';
import { contentTypeOf, encoderFor, isExportFormat } from '../../../functions/core/export/encoders.ts';
import { jsonEncoder } from '../../../functions/core/export/json-encoder.ts';

function formatError(format: unknown): ValidationError {
  try {
    encoderFor(format);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`expected ${String(format)} to be rejected`);
}

describe('encoderFor', () => {
  it('returns the encoder for each supported format', () => {
    expect(encoderFor('json')).toBe(jsonEncoder);
    expect(encoderFor('csv')).toBe(csvEncoder);
    expect(encoderFor('json').contentType).toBe('application/json');
    expect(encoderFor('csv').contentType).toBe('text/csv; charset=utf-8');
  });

  it('pages a pdf job as its companion CSV; the artifact itself is a PDF', () => {
    expect(encoderFor('pdf')).toBe(csvEncoder);
    expect(contentTypeOf('pdf')).toBe('application/pdf');
    expect(contentTypeOf('csv')).toBe('text/csv; charset=utf-8');
    expect(contentTypeOf('json')).toBe('application/json');
  });

  it.each(['xml', 'JSON', '', 'toString', '__proto__', undefined, null, 7])('rejects %p', (format) => {
    const error = formatError(format);
    expect(error.issues).toEqual([{ field: 'format', rule: 'must be one of json, csv, pdf' }]);
  });

  it('narrows only supported formats', () => {
    expect(['json', 'csv', 'pdf', 'constructor'].filter(isExportFormat)).toEqual(['json', 'csv', 'pdf']);
  });
});
