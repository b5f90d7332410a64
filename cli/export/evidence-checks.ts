import type { ExportManifest } from '../../functions/core/evidence/manifest.ts';
import { MANIFEST_SCHEMA } from '../../functions/core/evidence/manifest.ts';
import { formatCount } from '../output.ts';
import { type ArtifactRecords, ArtifactFormatError } from './artifact-records.ts';

/**
 * The checks `kt export verify` reports, one per thing that can break, each saying what the
 * manifest expected and what the file holds. Built here from what was read; printed by
 * verify-action.ts.
 */

export type CheckName =
  | 'manifest'
  | 'signature'
  | 'size'
  | 'sha256'
  | 'format'
  | 'recordsDigest'
  | 'records'
  | 'exportId'
  | 'companion'
  | 'companionSize'
  | 'companionSha256';

export interface EvidenceCheck {
  readonly name: CheckName;
  readonly ok: boolean;
  /** Not run (e.g. a PDF's companion CSV was not at hand); says nothing for or against. */
  readonly skipped?: true;
  readonly expected?: string | number;
  readonly actual?: string | number;
}

/** What a record check reports when the file could not be read as its format. */
export const NOT_COMPUTED = 'not computed: the file does not parse';

export function manifestCheck(problems: readonly string[]): EvidenceCheck {
  return problems.length === 0
    ? { name: 'manifest', ok: true }
    : {
        name: 'manifest',
        ok: false,
        expected: `a ${MANIFEST_SCHEMA} document with every field`,
        actual: problems.join('; '),
      };
}

/** `actual` says why it failed: not valid, or no key to check it with. */
export function signatureCheck(manifest: ExportManifest, valid: boolean, why?: string): EvidenceCheck {
  return valid
    ? { name: 'signature', ok: true, expected: manifest.keyId, actual: manifest.keyId }
    : {
        name: 'signature',
        ok: false,
        expected: `valid with key ${manifest.keyId}`,
        actual: why ?? 'invalid',
      };
}

export function fileChecks(
  manifest: ExportManifest,
  file: { bytes: number; sha256: string },
): EvidenceCheck[] {
  return [
    compare('size', manifest.artifact.bytes, file.bytes),
    compare('sha256', manifest.artifact.sha256, file.sha256),
  ];
}

/** The format, records digest, count and (JSON) export id checks, from the file's records or why they could not be read. */
export function recordChecks(
  manifest: ExportManifest,
  read: ArtifactRecords | ArtifactFormatError,
): EvidenceCheck[] {
  const json = manifest.format === 'json';
  if (read instanceof ArtifactFormatError) {
    const missing = (name: CheckName, expected: string | number): EvidenceCheck => ({
      name,
      ok: false,
      expected,
      actual: NOT_COMPUTED,
    });
    return [
      { name: 'format', ok: false, expected: `a ${manifest.format} export`, actual: read.message },
      missing('recordsDigest', manifest.recordsDigest.sha256),
      missing('records', manifest.records),
      ...(json ? [missing('exportId', manifest.exportId)] : []),
    ];
  }
  return [
    { name: 'format', ok: true, expected: manifest.format, actual: manifest.format },
    compare('recordsDigest', manifest.recordsDigest.sha256, read.digest),
    compare('records', manifest.records, read.count),
    ...(json ? [compare('exportId', manifest.exportId, read.exportId ?? '')] : []),
  ];
}

/**
 * A PDF report's companion CSV: its size and SHA-256 against the manifest's `companion`, then
 * (from its records) the format, records digest and count, which for a PDF the manifest states
 * about the companion. Without the file, one skipped check says how to get it.
 */
export function companionChecks(
  manifest: ExportManifest,
  found:
    | { readonly file: string; readonly digest: { bytes: number; sha256: string }; readonly read: ArtifactRecords | ArtifactFormatError }
    | { readonly missing: string },
): EvidenceCheck[] {
  const companion = manifest.companion;
  if (companion === undefined) return [];
  if ('missing' in found) {
    return [{ name: 'companion', ok: true, skipped: true, expected: companion.name, actual: found.missing }];
  }
  return [
    { name: 'companion', ok: true, expected: companion.name, actual: found.file },
    compare('companionSize', companion.bytes, found.digest.bytes),
    compare('companionSha256', companion.sha256, found.digest.sha256),
    ...recordChecks({ ...manifest, format: 'csv' }, found.read),
  ];
}

function compare(name: CheckName, expected: string | number, actual: string | number): EvidenceCheck {
  return { name, ok: expected === actual, expected, actual };
}

const LABELS: Readonly<Record<CheckName, string>> = {
  manifest: 'Manifest',
  signature: 'Signature',
  size: 'Size',
  sha256: 'SHA-256',
  format: 'Format',
  recordsDigest: 'Records digest',
  records: 'Records',
  exportId: 'Export id',
  companion: 'Companion CSV',
  companionSize: 'Companion size',
  companionSha256: 'Companion SHA-256',
};

/** One human line: `✓ Size: 186,123 bytes` or `✗ SHA-256: expected …, got …`. */
export function checkLine(check: EvidenceCheck, manifest?: ExportManifest): string {
  const label = LABELS[check.name];
  if (check.skipped) return `- ${label}: not checked: ${check.actual}`;
  if (check.ok) return `✓ ${label}: ${passed(check, manifest)}`;
  switch (check.name) {
    case 'manifest':
      return `✗ ${label}: not a valid manifest: ${check.actual}`;
    case 'signature':
      return `✗ ${label}: ${check.actual === 'invalid' ? `does not verify with key ${manifest?.keyId} (the manifest was altered, or another key signed it)` : check.actual}`;
    case 'format':
      return `✗ ${label}: not a valid ${manifest?.format} export: ${check.actual}`;
    default:
      return `✗ ${label}: expected ${show(check.name, check.expected)}, got ${show(check.name, check.actual)}`;
  }
}

function passed(check: EvidenceCheck, manifest: ExportManifest | undefined): string {
  switch (check.name) {
    case 'manifest':
      return `${MANIFEST_SCHEMA}, every field present`;
    case 'signature':
      return `valid, signed by ${check.actual} (${manifest?.algorithm})`;
    case 'format':
      return `the file parses as ${check.actual}`;
    case 'companion':
      return `${check.actual}`;
    default:
      return show(check.name, check.actual);
  }
}

function show(name: CheckName, value: string | number | undefined): string {
  if (typeof value !== 'number') return String(value);
  return name === 'size' || name === 'companionSize' ? `${formatCount(value)} bytes` : formatCount(value);
}
