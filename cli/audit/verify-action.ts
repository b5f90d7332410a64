import { readFile } from 'node:fs/promises';
import {
  type AuditEntry,
  type AuditHead,
  GENESIS_HASH,
  verifyChain,
} from '../../functions/core/audit/audit-chain.ts';
import {
  type AuditCheckpoint,
  checkAgainstCheckpoint,
  parseCheckpoint,
  verifyCheckpointSignature,
} from '../../functions/core/audit/checkpoint.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { CommandFailedError, oneLine, UsageError } from '../errors.ts';
import { toSecond } from '../export/render.ts';
import { fetchKeyList } from '../keys/key-list.ts';
import { formatQuantity, isHumanOutput, printJson, printSuccess, printWarning } from '../output.ts';
import { auditApi } from './audit-api.ts';
import { nonBlankFlag, seqFlag } from './audit-flags.ts';
import { fetchAll } from './list-action.ts';

/**
 * `kt audit verify`: walks the whole chain (from the API page by page, or from a saved file,
 * offline) with the same verifyChain the server uses, then checks the latest signed checkpoint:
 * its signature with the public key, and that the chain still reaches its seq with its hash, so
 * entries removed from the end of the chain show too. The verdict names the first broken seq and
 * the rule it breaks; exit 1 when anything is wrong.
 */

export interface VerifyAuditFlags {
  readonly fromSeq?: string;
  readonly file?: string;
  readonly checkpoint?: string;
  readonly publicKey?: string;
}

/** What was verified: the entries, the entry before them (when starting later), and how to find more. */
interface ChainSource {
  readonly entries: readonly AuditEntry[];
  readonly anchor?: AuditEntry;
  /** The API's head when the last page was read (online only). */
  readonly head?: AuditHead;
  /** Another entry by seq (for a checkpoint before the verified range). */
  lookup(seq: number): Promise<AuditEntry | undefined>;
  readonly online: boolean;
}

export async function verifyAudit(
  context: CliContext,
  globals: GlobalOptions,
  flags: VerifyAuditFlags,
): Promise<void> {
  const fromSeq = seqFlag('--from-seq', flags.fromSeq);
  const file = nonBlankFlag('--file', flags.file);
  const checkpointFile = nonBlankFlag('--checkpoint', flags.checkpoint);
  const publicKeyFile = nonBlankFlag('--public-key', flags.publicKey);
  if (publicKeyFile !== undefined && checkpointFile === undefined && file !== undefined) {
    throw new UsageError(
      '--public-key checks a --checkpoint: give both (or neither, to check the chain alone)',
    );
  }
  if (file !== undefined && checkpointFile !== undefined && publicKeyFile === undefined) {
    throw new UsageError(
      'offline, --checkpoint needs --public-key (save it with: kt keys get --id <keyId> --output key.pem)',
    );
  }
  // Local files first: a missing file is reported before any request is made.
  const savedCheckpoint =
    checkpointFile === undefined ? undefined : await readJsonFile(checkpointFile, '--checkpoint');
  const publicKeyPem =
    publicKeyFile === undefined ? undefined : await readTextFile(publicKeyFile, '--public-key');

  const source =
    file === undefined ? await fetchChain(context, globals, fromSeq) : await chainFromFile(file, fromSeq);
  const { entries, anchor } = source;
  // Annotated so the compiler sees that broken() never returns.
  const verdict: Verdict = new Verdict(context, globals);

  if (anchor !== undefined) {
    // The anchor is trusted as the starting point, but must at least be an entry whose hash is its own.
    const self = verifyChain([anchor], { after: { seq: anchor.seq - 1, hash: String(anchor.prevHash) } });
    if (!self.ok) verdict.broken(anchor.seq, self.reason, anchor);
  }
  const result = verifyChain(entries, anchor === undefined ? {} : { after: anchor });
  if (!result.ok) verdict.broken(result.seq, result.reason, positionOf(entries, anchor, result.seq));

  const last = entries.at(-1) ?? anchor;
  const end: AuditHead =
    last === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: last.seq, hash: last.hash };
  if (source.head !== undefined && source.head.seq > end.seq) {
    verdict.broken(
      end.seq + 1,
      `the chain ends at seq ${end.seq} but its head is at seq ${source.head.seq}: entries were removed`,
    );
  }

  const rawCheckpoint =
    savedCheckpoint ??
    (source.online ? await auditApi(apiClientFor(context, globals)).latestCheckpoint() : undefined);
  let checkpoint: AuditCheckpoint | undefined;
  if (rawCheckpoint !== undefined) {
    checkpoint = checkpointOf(rawCheckpoint, checkpointFile);
    const pem = publicKeyPem ?? (await publicKeyFor(context, globals, checkpoint));
    if (!verifyCheckpointSignature(checkpoint, pem)) {
      verdict.broken(
        checkpoint.seq,
        `the checkpoint's signature does not verify with key ${oneLine(checkpoint.keyId)}: the checkpoint was altered or not signed with that key`,
      );
    }
    const around = [...(anchor === undefined ? [] : [anchor]), ...entries];
    const first = around[0]?.seq ?? Number.POSITIVE_INFINITY;
    if (checkpoint.seq < first) {
      const signed = await source.lookup(checkpoint.seq);
      if (signed === undefined) {
        verdict.broken(
          checkpoint.seq,
          `entry ${checkpoint.seq}, which the checkpoint signs, is missing: entries were removed`,
        );
      }
      around.unshift(signed);
    }
    const matched = checkAgainstCheckpoint(around, checkpoint, end);
    if (!matched.ok) verdict.broken(matched.seq, matched.reason);
  } else {
    printWarning(
      context.io,
      source.online
        ? 'no checkpoint has been signed yet: entries removed from the end of the chain would not show'
        : 'no --checkpoint given: entries removed from the end of the chain would not show',
    );
  }
  verdict.intact(entries.length, end, checkpoint);
}

/** Prints the verdict: `✓ …` and return, or `✗ …` on stdout and a CommandFailedError (exit 1). */
class Verdict {
  constructor(
    private readonly context: CliContext,
    private readonly globals: GlobalOptions,
  ) {}

  broken(seq: number, reason: string, entry?: AuditEntry): never {
    const about =
      entry !== undefined && typeof entry === 'object' && entry !== null
        ? ` (entry ${oneLine(String(entry.action))} ${oneLine(String(entry.subject))})`
        : '';
    const rule = `${oneLine(reason)}${about}`;
    if (isHumanOutput(this.globals.outputFormat)) {
      this.context.io.stdout.write(`✗ Audit trail broken at seq ${seq}: ${rule}\n`);
    } else {
      printJson(this.context.io, { ok: false, seq, reason: rule });
    }
    throw new CommandFailedError(`the audit trail is broken at seq ${seq}`);
  }

  intact(count: number, head: AuditHead, checkpoint: AuditCheckpoint | undefined): void {
    if (!isHumanOutput(this.globals.outputFormat)) {
      printJson(this.context.io, {
        ok: true,
        entries: count,
        head,
        checkpoint:
          checkpoint === undefined
            ? null
            : { seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, keyId: checkpoint.keyId },
      });
      return;
    }
    printSuccess(
      this.context.io,
      `Audit trail intact: ${formatQuantity(count, 'entry', 'entries')}, head seq ${head.seq} hash ${head.hash}`,
    );
    if (checkpoint !== undefined) {
      printSuccess(
        this.context.io,
        `Checkpoint seq ${checkpoint.seq} signed by ${oneLine(checkpoint.keyId)} at ${toSecond(checkpoint.at)}: signature valid, chain matches`,
      );
    }
  }
}

/** The entry at chain position `seq` in what was verified, to name it in the verdict. */
function positionOf(
  entries: readonly AuditEntry[],
  anchor: AuditEntry | undefined,
  seq: number,
): AuditEntry | undefined {
  const index = seq - (anchor === undefined ? 1 : anchor.seq + 1);
  const entry = entries[index];
  // Only an entry that holds its own seq is the one at fault; a gap or reordering names seqs instead.
  return typeof entry === 'object' && entry !== null && entry.seq === seq ? entry : undefined;
}

async function fetchChain(
  context: CliContext,
  globals: GlobalOptions,
  fromSeq: number | undefined,
): Promise<ChainSource> {
  const api = auditApi(apiClientFor(context, globals));
  const lookup = async (seq: number) => (await api.page({ fromSeq: seq, toSeq: seq, limit: 1 })).entries[0];
  let anchor: AuditEntry | undefined;
  if (fromSeq !== undefined && fromSeq > 1) {
    const page = await api.page({ fromSeq: fromSeq - 1, toSeq: fromSeq - 1, limit: 1 });
    anchor = page.entries[0];
    if (anchor === undefined && page.head.seq < fromSeq - 1) {
      throw new UsageError(
        `--from-seq ${fromSeq} is past the end of the chain (its head is seq ${page.head.seq})`,
      );
    }
    if (anchor === undefined || anchor.seq !== fromSeq - 1) {
      new Verdict(context, globals).broken(
        fromSeq - 1,
        `entry ${fromSeq - 1}, the anchor for --from-seq ${fromSeq}, is missing`,
      );
    }
  }
  const { entries, head } = await fetchAll(context, globals, api, fromSeq === undefined ? {} : { fromSeq });
  return { entries, ...(anchor === undefined ? {} : { anchor }), head, lookup, online: true };
}

/** A saved listing: `kt audit list --all -o json` output, or a JSON array of entries. */
async function chainFromFile(file: string, fromSeq: number | undefined): Promise<ChainSource> {
  const data = await readJsonFile(file, '--file');
  const all = Array.isArray(data) ? data : (data as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(all)) {
    throw new CommandFailedError(
      `${file} holds neither a JSON array of audit entries nor an object with "entries"`,
    );
  }
  const entries = all as AuditEntry[];
  const lookup = async (seq: number) => entries.find((entry) => entry?.seq === seq);
  if (fromSeq === undefined || fromSeq === 1) return { entries, lookup, online: false };
  const index = entries.findIndex((entry) => entry?.seq === fromSeq - 1);
  if (index < 0) {
    throw new CommandFailedError(
      `${file} has no entry ${fromSeq - 1} to start --from-seq ${fromSeq} from ` +
        `(save it with: kt audit list --from-seq ${fromSeq - 1} --all -o json)`,
    );
  }
  return { entries: entries.slice(index + 1), anchor: entries[index], lookup, online: false };
}

function checkpointOf(raw: unknown, file: string | undefined): AuditCheckpoint {
  try {
    return parseCheckpoint(raw);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const issue = error.issues[0];
    const where = file === undefined ? 'the latest checkpoint from the API' : file;
    throw new CommandFailedError(
      `${where} is not a valid audit checkpoint${issue === undefined ? '' : `: ${issue.field} ${issue.rule}`}`,
    );
  }
}

async function publicKeyFor(
  context: CliContext,
  globals: GlobalOptions,
  checkpoint: AuditCheckpoint,
): Promise<string> {
  const { keys } = await fetchKeyList(apiClientFor(context, globals));
  const key = keys.find((candidate) => candidate.keyId === checkpoint.keyId);
  if (key === undefined) {
    throw new CommandFailedError(
      `key ${oneLine(checkpoint.keyId)}, which signed checkpoint seq ${checkpoint.seq}, is not listed by the API ` +
        '(kt keys list); pass --public-key with the key you trust',
    );
  }
  return key.publicKeyPem;
}

async function readTextFile(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CommandFailedError(
      `cannot read ${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)}`,
      { cause: error },
    );
  }
}

async function readJsonFile(file: string, flag: string): Promise<unknown> {
  const text = await readTextFile(file, flag);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CommandFailedError(`${flag} ${file} is not valid JSON`, { cause: error });
  }
}
