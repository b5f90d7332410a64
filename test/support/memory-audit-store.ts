import { generateKeyPairSync, sign } from 'node:crypto';
import type { AuditEntry, AuditHead } from '../../functions/core/audit/audit-chain.ts';
import type {
  AuditChainStore,
  AuditStoreQuery,
  StoredAuditEntry,
} from '../../functions/core/audit/audit-chain-store.ts';
import type {
  CheckpointMark,
  CheckpointMarks,
  CheckpointObjects,
} from '../../functions/core/audit/checkpoint.ts';
import { SIGNATURE_ALGORITHM, type EvidenceSignature } from '../../functions/core/evidence/signing.ts';
import type { EvidenceSigner } from '../../functions/core/ports.ts';

/**
 * The audit chain store in memory, with the same conditional semantics as the DynamoDB one, and
 * hooks to run code between the steps of an append (to stage races and crashes).
 */
export class MemoryAuditStore implements AuditChainStore, CheckpointMarks, CheckpointObjects {
  head: AuditHead | undefined;
  readonly slots = new Map<number, StoredAuditEntry>();
  mark: CheckpointMark | undefined;
  readonly objects = new Map<string, string>();
  readonly calls: string[] = [];
  /** Runs before each call of the named method; may change the store. */
  before: Partial<Record<string, (...args: unknown[]) => void | Promise<void>>> = {};

  private async hook(name: string, ...args: unknown[]): Promise<void> {
    this.calls.push(name);
    await this.before[name]?.(...args);
  }

  async readHead(): Promise<AuditHead | undefined> {
    await this.hook('readHead');
    return this.head;
  }

  async putEntryIfAbsent(entry: AuditEntry, writer: string): Promise<boolean> {
    await this.hook('putEntryIfAbsent', entry, writer);
    if (this.slots.has(entry.seq)) return false;
    this.slots.set(entry.seq, { entry: clone(entry), writer });
    return true;
  }

  async readEntry(seq: number): Promise<StoredAuditEntry | undefined> {
    await this.hook('readEntry', seq);
    const stored = this.slots.get(seq);
    return stored === undefined ? undefined : clone(stored);
  }

  async moveHead(from: AuditHead | undefined, to: AuditHead): Promise<boolean> {
    await this.hook('moveHead', from, to);
    if (from === undefined ? this.head !== undefined : this.head?.seq !== from.seq) return false;
    this.head = { seq: to.seq, hash: to.hash };
    return true;
  }

  async query({ afterSeq, toSeq, subject, limit }: AuditStoreQuery): Promise<readonly AuditEntry[]> {
    await this.hook('query');
    return [...this.slots.values()]
      .map((stored) => stored.entry)
      .filter((e) => e.seq > afterSeq && (toSeq === undefined || e.seq <= toSeq))
      .filter((e) => subject === undefined || e.subject === subject)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((e) => clone(e));
  }

  async readCheckpointMark(): Promise<CheckpointMark | undefined> {
    await this.hook('readCheckpointMark');
    return this.mark;
  }

  async advanceCheckpointMark(mark: CheckpointMark): Promise<boolean> {
    await this.hook('advanceCheckpointMark', mark);
    if (this.mark !== undefined && this.mark.seq >= mark.seq) return false;
    this.mark = mark;
    return true;
  }

  async putDocument(key: string, body: string): Promise<void> {
    await this.hook('putDocument', key, body);
    this.objects.set(key, body);
  }

  async getDocument(key: string): Promise<string | undefined> {
    await this.hook('getDocument', key);
    return this.objects.get(key);
  }

  /** Every entry in seq order. */
  all(): AuditEntry[] {
    return [...this.slots.values()].map((s) => s.entry).sort((a, b) => a.seq - b.seq);
  }
}

/** A P-256 evidence signer for tests, with its public key, as the local signer signs. */
export function testSigner(keyId = 'kt-test-key'): EvidenceSigner & { publicKeyPem: string; signed: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    signed: 0,
    async sign(message: Uint8Array): Promise<EvidenceSignature> {
      signer.signed++;
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      return { keyId, algorithm: SIGNATURE_ALGORITHM, signature: der.toString('base64') };
    },
  };
  return signer;
}

/** A deep copy, as a store's round trip makes one (structuredClone would hand jest another realm's objects). */
function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
