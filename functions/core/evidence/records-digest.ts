import { type Sha256State, ResumableSha256 } from '../digest/resumable-sha256.ts';
import { CSV_COLUMNS } from '../export/csv-encoder.ts';

/**
 * The records digest: which records an artifact holds, in which order, whatever its format. The
 * JSON and CSV exports of one query share it, so an auditor can tell that two files carry the same
 * evidence, and recompute it from either file.
 *
 *   records digest = lowercase hex SHA-256 of the UTF-8 bytes of, for each record in export order,
 *                    JSON.stringify([id, timestamp, model, policy, action, result, tokens, latency_ms]) + "\n"
 *
 * Only the CSV's columns take part (the CSV has no team or gateway extras); the artifact's own
 * SHA-256 covers every byte of it. Strings are written as JSON.stringify writes them (Python:
 * json.dumps(..., ensure_ascii=False, separators=(',', ':'))), numbers in their shortest form. An
 * export of no records has the digest of no bytes.
 */

export const RECORDS_DIGEST_ALGORITHM = 'sha256-records-v1';
export const RECORD_FIELDS = CSV_COLUMNS;

/** One record's line in the digest. Throws on a record that lacks a field (the store is corrupt). */
export function recordLine(record: Readonly<Record<string, unknown>>): string {
  return `${JSON.stringify(
    RECORD_FIELDS.map((field) => {
      const value = record[field];
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new TypeError(`the record has no usable ${field}`);
      }
      return value;
    }),
  )}\n`;
}

// `,"<field>":` can only be a member boundary in canonical JSON: inside a string every `"` is escaped.
const MEMBER_MARKERS = RECORD_FIELDS.slice(1).map((field) => `,${JSON.stringify(field)}:`);
const FIRST_MEMBER = `{${JSON.stringify(RECORD_FIELDS[0])}:`;
const AFTER_LAST_MEMBER = ',"team":';

/**
 * recordLine of a stored event's canonical JSON (canonicalEventJson), cut out of the text rather
 * than parsed: canonical JSON writes the record fields first, in this order, each value spelled
 * as JSON.stringify spells it, which is how the line spells them too. The export path reads
 * millions of events, and parsing each would cost a fifth of the read. Text that is not shaped
 * so is parsed instead, which fails loudly on a record that lacks a field.
 */
export function recordLineOfCanonical(json: string): string {
  if (json.startsWith(FIRST_MEMBER)) {
    const values: string[] = [];
    let start = FIRST_MEMBER.length;
    for (const marker of [...MEMBER_MARKERS, AFTER_LAST_MEMBER]) {
      const end = json.indexOf(marker, start);
      if (end === -1) break;
      values.push(json.slice(start, end));
      start = end + marker.length;
    }
    if (values.length === RECORD_FIELDS.length) return `[${values.join(',')}]\n`;
  }
  return recordLine(JSON.parse(json) as Record<string, unknown>);
}

/** The digest as it grows record by record; its state travels in the export checkpoint. */
export class RecordsDigest {
  private readonly sha: ResumableSha256;
  private readonly encoder = new TextEncoder();

  constructor(state?: Sha256State) {
    this.sha = state === undefined ? new ResumableSha256() : ResumableSha256.fromState(state);
  }

  add(record: Readonly<Record<string, unknown>>): void {
    this.addLines(recordLine(record));
  }

  /** Lines made by recordLine or recordLineOfCanonical, any number at once. */
  addLines(lines: string): void {
    this.sha.update(this.encoder.encode(lines));
  }

  state(): Sha256State {
    return this.sha.toState();
  }

  hex(): string {
    return this.sha.digestHex();
  }
}
