import { randomBytes } from 'node:crypto';

export const EXPORT_ID_PREFIX = 'exp_';

// Crockford's lowercase base32: no i, l, o or u, so an id read aloud or copied from a PDF by
// hand cannot be mistaken for another.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const RANDOM_CHARS = 20;
const EXPORT_ID = /^exp_[0-9abcdefghjkmnpqrstvwxyz]{20}$/;

/**
 * A new export id: `exp_` + 20 random base32 characters (100 bits), so ids can be issued by any
 * Lambda without coordination and are safe as a Step Functions execution name and an S3 key part.
 */
export function newExportId(): string {
  const bytes = randomBytes(RANDOM_CHARS);
  let id = EXPORT_ID_PREFIX;
  // 256 is a multiple of 32, so taking the low five bits keeps every character equally likely.
  for (const byte of bytes) id += ALPHABET[byte & 31];
  return id;
}

/** Whether a value has the shape newExportId produces; a path parameter failing this cannot exist. */
export function isExportId(value: unknown): value is string {
  return typeof value === 'string' && EXPORT_ID.test(value);
}
