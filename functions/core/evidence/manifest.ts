import type { TimeRange } from '../events/time-range.ts';
import type { ExportFilters, ExportFormat } from '../export/export-metadata.ts';
import type { EvidenceSigner } from '../ports.ts';
import type { RECORDS_DIGEST_ALGORITHM } from './records-digest.ts';
import { type SignedDocument, signDocument } from './signing.ts';

/**
 * The manifest that sits beside every artifact (`<artifact>.manifest.json`): what the export
 * was asked for, what it holds, and a signature over all of it, so a downloaded file can be
 * checked offline (`kt export verify`, or openssl and sha256sum alone: docs/verifying-evidence.md).
 *
 * Values are strings, safe integers and objects only (canonical-json.ts), and an absent title or
 * filter is absent rather than null, so the signed bytes have one spelling in every language.
 */

export const MANIFEST_SCHEMA = 'keeptrusts.export-manifest/1';

export interface UnsignedManifest {
  readonly schema: typeof MANIFEST_SCHEMA;
  readonly exportId: string;
  readonly title?: string;
  readonly range: TimeRange;
  readonly filters: ExportFilters;
  readonly format: ExportFormat;
  /** Records in the artifact. */
  readonly records: number;
  /** Matching events in the store, counted apart from the export loop; equal to records. */
  readonly sourceCount: number;
  readonly artifact: {
    /** The file name the artifact downloads as. */
    readonly name: string;
    readonly bytes: number;
    /** Lowercase hex SHA-256 of the artifact's bytes (`sha256sum`). */
    readonly sha256: string;
  };
  /**
   * A PDF report's companion CSV, which holds every record (the report's table may stop at a
   * cap), signed here like the artifact. Absent for JSON and CSV exports. (One object, not a list:
   * the signed canonical JSON has no arrays.)
   */
  readonly companion?: {
    /** The file name it downloads as, beside the artifact. */
    readonly name: string;
    readonly format: 'csv';
    readonly bytes: number;
    readonly sha256: string;
  };
  /** Which records, in which order, whatever the format; for a PDF, its companion CSV's records. */
  readonly recordsDigest: { readonly algorithm: typeof RECORDS_DIGEST_ALGORITHM; readonly sha256: string };
  /** ISO 8601 UTC. */
  readonly generatedAt: string;
  /**
   * The audit trail's head when the manifest was made: anchors the chain outside the table, so a
   * rewrite of the trail up to this entry would no longer match a manifest an auditor holds.
   */
  readonly auditHead: { readonly seq: number; readonly hash: string };
}

export type ExportManifest = SignedDocument<UnsignedManifest>;

/** `<artifact name>.manifest.json`, beside the artifact (same folder, same base name). */
export function manifestNameOf(artifactName: string): string {
  return `${artifactName}.manifest.json`;
}

export function signManifest(signer: EvidenceSigner, manifest: UnsignedManifest): Promise<ExportManifest> {
  return signDocument(signer, manifest);
}

/** The manifest as stored and downloaded: indented for people, signed over its canonical form. */
export function manifestText(manifest: ExportManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
