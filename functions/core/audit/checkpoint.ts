import { ValidationError } from '../errors.ts';
import { isoUtcTimestamp } from '../events/decision-event.ts';
import {
  documentSigningBytes,
  SIGNATURE_ALGORITHM,
  signDocument,
  verifyDocumentSignature,
} from '../evidence/signing.ts';
import type { ArtifactStore, EvidenceSigner } from '../ports.ts';
import type { AuditEntry, AuditHead } from './audit-chain.ts';

/**
 * Signed checkpoints of the audit chain head. The chain alone cannot show that its newest entries
 * were deleted (what remains is still a valid chain), nor stop someone who rewrites every entry
 * from an edit onwards. A checkpoint, signed with the evidence key and kept outside the table (in
 * the artifact bucket), fixes the hash at a seq: a chain that ends before it, or holds another
 * hash at that seq, was cut or rewritten.
 *
 * The signature is over the UTF-8 bytes of the canonical JSON (canonical-json.ts) of the
 * checkpoint without its `signature` member, e.g.
 *
 *   {"algorithm":"ECDSA_P256_SHA256","at":"2026-04-20T09:16:00.000Z","hash":"…","keyId":"…","schema":1,"seq":100}
 *
 * so `openssl dgst -sha256 -verify key.pem -signature sig.der message` checks it (README.md here).
 *
 * No scheduler writes them: an append writes one when it lands on a multiple of `every` (100 by
 * default), when `every` entries were appended since the last one (one that failed to be written
 * is made up for), or when the last one is more than a day old. The last checkpoint's seq, hash
 * and time are kept in the control table (pk AUDIT, sk CHECKPOINT) so deciding costs one read.
 */

export const CHECKPOINT_SCHEMA = 1;
export const DEFAULT_CHECKPOINT_EVERY = 100;
export const CHECKPOINT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
export const CHECKPOINT_PREFIX = 'audit/checkpoints/';
export const LATEST_CHECKPOINT_KEY = `${CHECKPOINT_PREFIX}latest.json`;

export interface AuditCheckpoint {
  readonly schema: typeof CHECKPOINT_SCHEMA;
  /** The head that was signed: entry `seq` has hash `hash`. */
  readonly seq: number;
  readonly hash: string;
  /** When it was signed, ISO 8601 UTC. */
  readonly at: string;
  readonly keyId: string;
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  /** Base64 DER ECDSA signature over checkpointMessage(this). */
  readonly signature: string;
}

/** The last checkpoint written, as kept beside the chain to decide when the next one is due. */
export interface CheckpointMark {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
}

/** The checkpoint's state in the control table. */
export interface CheckpointMarks {
  readCheckpointMark(): Promise<CheckpointMark | undefined>;
  /** Records `mark` if there is none or the recorded one has a lower seq; false otherwise. */
  advanceCheckpointMark(mark: CheckpointMark): Promise<boolean>;
}

/** Checkpoint documents live in the artifact bucket, written whole like manifests. */
export type CheckpointObjects = Pick<ArtifactStore, 'putDocument' | 'getDocument'>;

export interface CheckpointWriterDeps {
  readonly marks: CheckpointMarks;
  readonly objects: CheckpointObjects;
  readonly signer: EvidenceSigner;
  /** A checkpoint every this many entries (RuntimeConfig.auditCheckpointEvery). */
  readonly every: number;
  readonly now: () => Date;
}

/** `audit/checkpoints/000000000100.json` for seq 100. */
export function checkpointKey(seq: number): string {
  return `${CHECKPOINT_PREFIX}${String(seq).padStart(12, '0')}.json`;
}

/** The bytes a checkpoint's signature covers: the canonical JSON of every member but `signature`. */
export function checkpointMessage(checkpoint: Omit<AuditCheckpoint, 'signature'>): Uint8Array {
  return documentSigningBytes(checkpoint);
}

/** Signs the head `head` as of `at` (the signer's key id and algorithm are signed with it). */
export async function signCheckpoint(
  signer: EvidenceSigner,
  head: AuditHead,
  at: Date,
): Promise<AuditCheckpoint> {
  return signDocument(signer, {
    schema: CHECKPOINT_SCHEMA,
    seq: head.seq,
    hash: head.hash,
    at: at.toISOString(),
  });
}

/** Whether an append that produced `entry` should write a checkpoint, given the last one. */
export function isCheckpointDue(
  last: CheckpointMark | undefined,
  entry: AuditHead,
  now: Date,
  every: number,
): boolean {
  if (last === undefined) return true;
  if (entry.seq <= last.seq) return false;
  return (
    entry.seq % every === 0 ||
    entry.seq - last.seq >= every ||
    now.getTime() - Date.parse(last.at) >= CHECKPOINT_MAX_AGE_MS
  );
}

/**
 * Writes a checkpoint of `entry` (just appended) when one is due: signed, stored under its seq,
 * recorded in the control table, then published as latest.json. Concurrent appenders may both
 * decide to write one; the record only moves forward, so latest.json is written only by the one
 * whose checkpoint is newest at that moment. Returns the checkpoint, or undefined when none was due.
 */
export async function writeCheckpointIfDue(
  deps: CheckpointWriterDeps,
  entry: AuditHead,
): Promise<AuditCheckpoint | undefined> {
  const now = deps.now();
  if (!isCheckpointDue(await deps.marks.readCheckpointMark(), entry, now, deps.every)) return undefined;
  const checkpoint = await signCheckpoint(deps.signer, entry, now);
  const body = `${JSON.stringify(checkpoint, null, 2)}\n`;
  // Stored before it is recorded: a crash in between leaves the mark behind, so the next append
  // writes one again rather than the table pointing at a checkpoint that is not there.
  await deps.objects.putDocument(checkpointKey(checkpoint.seq), body, 'application/json');
  const { seq, hash, at } = checkpoint;
  if (!(await deps.marks.advanceCheckpointMark({ seq, hash, at }))) return checkpoint;
  await deps.objects.putDocument(LATEST_CHECKPOINT_KEY, body, 'application/json');
  return checkpoint;
}

/** The latest published checkpoint, or undefined when none was written yet. */
export async function readLatestCheckpoint(
  objects: Pick<CheckpointObjects, 'getDocument'>,
): Promise<AuditCheckpoint | undefined> {
  const text = await objects.getDocument(LATEST_CHECKPOINT_KEY);
  if (text === undefined) return undefined;
  return parseCheckpoint(JSON.parse(text));
}

/** A checkpoint from untrusted JSON (a file, an API answer); a ValidationError names what is wrong. */
export function parseCheckpoint(value: unknown): AuditCheckpoint {
  const issues: { field: string; rule: string }[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('The audit checkpoint is invalid.', [
      { field: '(checkpoint)', rule: 'must be an object' },
    ]);
  }
  const c = value as Record<string, unknown>;
  if (c.schema !== CHECKPOINT_SCHEMA) issues.push({ field: 'schema', rule: `must be ${CHECKPOINT_SCHEMA}` });
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 1) {
    issues.push({ field: 'seq', rule: 'must be a whole number of 1 or more' });
  }
  if (typeof c.hash !== 'string' || !/^[0-9a-f]{64}$/.test(c.hash)) {
    issues.push({ field: 'hash', rule: 'must be 64 lowercase hex characters' });
  }
  if (typeof c.at !== 'string' || !isoUtcTimestamp.safeParse(c.at).success) {
    issues.push({ field: 'at', rule: 'must be an ISO 8601 UTC timestamp' });
  }
  if (typeof c.keyId !== 'string' || c.keyId.length === 0)
    issues.push({ field: 'keyId', rule: 'must be text' });
  if (c.algorithm !== SIGNATURE_ALGORITHM)
    issues.push({ field: 'algorithm', rule: `must be ${SIGNATURE_ALGORITHM}` });
  if (typeof c.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(c.signature)) {
    issues.push({ field: 'signature', rule: 'must be base64' });
  }
  const known = new Set(['schema', 'seq', 'hash', 'at', 'keyId', 'algorithm', 'signature']);
  for (const key of Object.keys(c))
    if (!known.has(key)) issues.push({ field: key, rule: 'is not a checkpoint member' });
  if (issues.length > 0) throw new ValidationError('The audit checkpoint is invalid.', issues);
  return {
    schema: CHECKPOINT_SCHEMA,
    seq: c.seq as number,
    hash: c.hash as string,
    at: c.at as string,
    keyId: c.keyId as string,
    algorithm: SIGNATURE_ALGORITHM,
    signature: c.signature as string,
  };
}

/** Whether the checkpoint's signature verifies with the PEM public key. */
export function verifyCheckpointSignature(checkpoint: AuditCheckpoint, publicKeyPem: string): boolean {
  return verifyDocumentSignature(checkpoint, publicKeyPem);
}

/**
 * Checks a verified chain (or the slice of it that holds the checkpoint's seq) against a
 * checkpoint whose signature verified: the chain must reach the checkpoint's seq, with the
 * signed hash there. `entries` must run up to the end of the chain, or the first rule means nothing.
 */
export function checkAgainstCheckpoint(
  entries: readonly AuditEntry[],
  checkpoint: Pick<AuditCheckpoint, 'seq' | 'hash'>,
  endOfChain: AuditHead | undefined,
): { readonly ok: true } | { readonly ok: false; readonly seq: number; readonly reason: string } {
  const lastSeq = endOfChain?.seq ?? 0;
  if (lastSeq < checkpoint.seq) {
    return {
      ok: false,
      seq: lastSeq + 1,
      reason:
        lastSeq === 0
          ? `the chain is empty but checkpoint seq ${checkpoint.seq} was signed: entries were removed`
          : `the chain ends at seq ${lastSeq} but checkpoint seq ${checkpoint.seq} was signed: entries were removed`,
    };
  }
  const signed = entries.find((entry) => entry.seq === checkpoint.seq);
  if (signed !== undefined && signed.hash !== checkpoint.hash) {
    return {
      ok: false,
      seq: checkpoint.seq,
      reason: `entry ${checkpoint.seq} has hash ${signed.hash}, but the signed checkpoint has ${checkpoint.hash}: the chain was rewritten`,
    };
  }
  return { ok: true };
}
