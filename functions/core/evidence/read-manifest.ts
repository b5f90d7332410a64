import { DOCUMENTED_FORMATS } from '../export/export-metadata.ts';
import { isExportId } from '../export/export-id.ts';
import { type ExportManifest, MANIFEST_SCHEMA } from './manifest.ts';
import { RECORDS_DIGEST_ALGORITHM } from './records-digest.ts';
import { SIGNATURE_ALGORITHM } from './signing.ts';

/**
 * Reads a manifest someone hands us (a downloaded file, an API answer) back into an
 * ExportManifest, naming every member that is missing or has the wrong shape. It checks shapes
 * only: whether the signature verifies and the artifact matches is the verifier's job.
 */

export type ManifestReading =
  | { readonly ok: true; readonly manifest: ExportManifest }
  | { readonly ok: false; readonly problems: readonly string[] };

const SHA256_HEX = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

type Rule = (value: unknown) => string | undefined;

const text: Rule = (value) =>
  typeof value === 'string' && value !== '' ? undefined : 'is not a non-empty string';
const count: Rule = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? undefined
    : 'is not a whole number ≥ 0';
const sha256: Rule = (value) =>
  typeof value === 'string' && SHA256_HEX.test(value) ? undefined : 'is not a lowercase hex SHA-256';
const exactly =
  (expected: string): Rule =>
  (value) =>
    value === expected ? undefined : `must be "${expected}"`;
const oneOf =
  (choices: readonly string[]): Rule =>
  (value) =>
    typeof value === 'string' && choices.includes(value) ? undefined : `must be one of ${choices.join(', ')}`;

/** Every member and its rule; `?` marks optional ones (absent, never null: see manifest.ts). */
const RULES: readonly (readonly [path: string, rule: Rule])[] = [
  ['schema', exactly(MANIFEST_SCHEMA)],
  ['exportId', (value) => (isExportId(value) ? undefined : 'is not an export id (exp_…)')],
  ['title?', text],
  ['range.from', text],
  ['range.to', text],
  ['filters.team?', text],
  ['filters.policy?', text],
  ['format', oneOf(DOCUMENTED_FORMATS)],
  ['records', count],
  ['sourceCount', count],
  ['artifact.name', text],
  ['artifact.bytes', count],
  ['artifact.sha256', sha256],
  ['recordsDigest.algorithm', exactly(RECORDS_DIGEST_ALGORITHM)],
  ['recordsDigest.sha256', sha256],
  ['generatedAt', text],
  ['auditHead.seq', count],
  ['auditHead.hash', sha256],
  ['keyId', text],
  ['algorithm', exactly(SIGNATURE_ALGORITHM)],
  ['signature', (value) => (typeof value === 'string' && BASE64.test(value) ? undefined : 'is not base64')],
];

export function readManifest(value: unknown): ManifestReading {
  if (!isObject(value)) return { ok: false, problems: ['the manifest is not a JSON object'] };
  const problems: string[] = [];
  for (const [spec, rule] of RULES) {
    const optional = spec.endsWith('?');
    const path = optional ? spec.slice(0, -1) : spec;
    const found = lookup(value, path);
    if (found.parentMissing) continue; // reported once, for the parent
    if (found.value === undefined) {
      if (!optional) problems.push(`"${path}" is missing`);
      continue;
    }
    const problem = rule(found.value);
    if (problem !== undefined) problems.push(`"${path}" ${problem}`);
  }
  for (const parent of ['range', 'filters', 'artifact', 'recordsDigest', 'auditHead']) {
    const member = value[parent];
    if (member === undefined) problems.push(`"${parent}" is missing`);
    else if (!isObject(member)) problems.push(`"${parent}" is not an object`);
  }
  return problems.length === 0
    ? { ok: true, manifest: value as unknown as ExportManifest }
    : { ok: false, problems };
}

function lookup(root: Record<string, unknown>, path: string): { value: unknown; parentMissing: boolean } {
  const [first, second] = path.split('.') as [string, string | undefined];
  if (second === undefined) return { value: root[first], parentMissing: false };
  const parent = root[first];
  if (!isObject(parent)) return { value: undefined, parentMissing: true };
  return { value: parent[second], parentMissing: false };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
