import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalEventJson, type DecisionEvent } from '../../functions/core/events/decision-event.ts';
import {
  type ExportManifest,
  MANIFEST_SCHEMA,
  manifestText,
  signManifest,
} from '../../functions/core/evidence/manifest.ts';
import { RECORDS_DIGEST_ALGORITHM, RecordsDigest } from '../../functions/core/evidence/records-digest.ts';
import { SIGNATURE_ALGORITHM } from '../../functions/core/evidence/signing.ts';
import { csvEncoder } from '../../functions/core/export/csv-encoder.ts';
import type { ExportFormat } from '../../functions/core/export/export-metadata.ts';
import { jsonEncoder } from '../../functions/core/export/json-encoder.ts';
import type { EvidenceSigner } from '../../functions/core/ports.ts';

/**
 * Evidence files as an export leaves them, without a stack: the artifact written by the real
 * encoders, and its manifest signed by a throwaway P-256 key, for tests of the verifiers.
 */

export interface TestKey {
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly signer: EvidenceSigner;
}

export function testKey(keyId: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyId,
    publicKeyPem: (publicKey as KeyObject).export({ type: 'spki', format: 'pem' }).toString(),
    signer: {
      sign: async (message) => ({
        keyId,
        algorithm: SIGNATURE_ALGORITHM,
        signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
      }),
    },
  };
}

/**
 * Events that exercise every rule of the records digest: formula-like and already-neutralised
 * cells, quotes and commas, non-ASCII text, fractional and tiny latencies, and extra fields.
 */
export function awkwardEvents(): DecisionEvent[] {
  const base = { timestamp: '2026-04-16T00:00:01Z', team: 'engineering', tokens: 5, latency_ms: 12 };
  return [
    {
      ...base,
      id: 'evt_formula',
      model: "=cmd|' /C calc'!A0",
      policy: '+sum',
      action: '-redact',
      result: '@home',
    },
    {
      ...base,
      id: 'evt_quoted',
      model: "'=already",
      policy: "''+twice",
      action: 'say "hi", ok',
      result: 'a,b',
    },
    {
      ...base,
      id: 'evt_unicode',
      model: '模型 ✓ é 😀',
      policy: 'pii-redaction',
      action: 'allow',
      result: 'passed',
      latency_ms: 0.00001,
    },
    {
      ...base,
      id: 'evt_tiny',
      model: 'gpt-4o',
      policy: 'p',
      action: 'allow',
      result: 'passed',
      latency_ms: 1e-7,
      tokens: 0,
    },
    {
      ...base,
      id: 'evt_extra',
      model: 'gpt-4o',
      policy: 'p',
      action: 'allow',
      result: 'passed',
      latency_ms: 312.5,
      '7': 'x',
      gateway: { region: 'eu' },
    },
  ] as DecisionEvent[];
}

export interface EvidencePair {
  readonly artifact: string;
  readonly manifestPath: string;
  readonly manifest: ExportManifest;
  readonly bytes: Buffer;
}

/** Writes `<dir>/<name>` and `<dir>/<name>.manifest.json` for these events, in this order. */
export async function writeEvidence(
  dir: string,
  name: string,
  events: readonly DecisionEvent[],
  options: { readonly id: string; readonly format: ExportFormat; readonly key: TestKey },
): Promise<EvidencePair> {
  const encoder = options.format === 'json' ? jsonEncoder : csvEncoder;
  const meta = {
    id: options.id,
    range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' },
    filters: {},
    format: options.format,
    generated_at: '2026-04-24T00:00:00Z',
  };
  const digest = new RecordsDigest();
  const parts = [encoder.header(meta)];
  events.forEach((event, index) => {
    parts.push(
      encoder.encode({ sortKey: `${event.timestamp}#${event.id}`, json: canonicalEventJson(event) }, index),
    );
    digest.add(event);
  });
  parts.push(encoder.trailer(meta, events.length));
  const bytes = Buffer.from(parts.join(''), 'utf8');
  const artifact = join(dir, name);
  writeFileSync(artifact, bytes);
  const manifest = await signManifest(options.key.signer, {
    schema: MANIFEST_SCHEMA,
    exportId: options.id,
    range: meta.range,
    filters: {},
    format: options.format,
    records: events.length,
    sourceCount: events.length,
    artifact: {
      name: `${options.id}.${options.format}`,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    },
    recordsDigest: { algorithm: RECORDS_DIGEST_ALGORITHM, sha256: digest.hex() },
    generatedAt: '2026-04-24T00:00:00Z',
    auditHead: { seq: 7, hash: 'c'.repeat(64) },
  });
  const manifestPath = `${artifact}.manifest.json`;
  writeFileSync(manifestPath, manifestText(manifest));
  return { artifact, manifestPath, manifest, bytes };
}
