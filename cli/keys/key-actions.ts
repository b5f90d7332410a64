import { writeFile } from 'node:fs/promises';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { CommandFailedError, oneLine, UsageError } from '../errors.ts';
import { toSecond } from '../export/render.ts';
import { alreadyExists, refuseExisting } from '../export/target-path.ts';
import { formatColumns, isHumanOutput, printJson, printLines, printSuccess } from '../output.ts';
import { fetchKeyList, type PublicKeyView } from './key-list.ts';

/**
 * `kt keys list | get`: the public keys that verify signed evidence (manifests, audit
 * checkpoints). Flags are checked before the client is built, so a wrong command line is a usage
 * error (exit 2) even without a token.
 */

export interface GetKeyFlags {
  readonly id: string;
  readonly output?: string;
  readonly force?: boolean;
}

export async function listKeys(context: CliContext, globals: GlobalOptions): Promise<void> {
  const list = await fetchKeyList(apiClientFor(context, globals));
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, list);
    return;
  }
  if (list.keys.length === 0) {
    context.io.stdout.write('No signing keys.\n');
    return;
  }
  printLines(context.io, keyTable(list.keys));
}

/** The `kt keys list` table: a header and one aligned row per key. */
export function keyTable(keys: readonly PublicKeyView[]): string[] {
  const rows = keys.map((key) => [
    oneLine(key.keyId),
    oneLine(key.algorithm),
    key.current ? 'yes' : 'no',
    key.createdAt === undefined ? '-' : toSecond(key.createdAt),
  ]);
  return formatColumns([['KEY ID', 'ALGORITHM', 'CURRENT', 'CREATED'], ...rows]);
}

/**
 * Writes one key's PEM to `--output` (never over an existing file without --force) or prints it;
 * with `-o json`, prints the key as the API lists it.
 */
export async function getKey(context: CliContext, globals: GlobalOptions, flags: GetKeyFlags): Promise<void> {
  const id = flags.id.trim();
  if (id === '') throw new UsageError('--id must name a key (kt keys list shows them)');
  const output = flags.output;
  if (output !== undefined && output.trim() === '') throw new UsageError('--output must not be empty');
  const force = flags.force === true;
  // Before the request: an existing file is refused at once, whatever the API would answer.
  if (output !== undefined) await refuseExisting(output, force);

  const { keys } = await fetchKeyList(apiClientFor(context, globals));
  const key = keys.find((candidate) => candidate.keyId === id);
  if (key === undefined) {
    throw new CommandFailedError(`key ${oneLine(id)} was not found (kt keys list shows the keys)`);
  }

  if (output !== undefined) await writePem(output, key.publicKeyPem, force);
  if (!isHumanOutput(globals.outputFormat)) printJson(context.io, key);
  else if (output === undefined) context.io.stdout.write(withNewline(key.publicKeyPem));
  else printSuccess(context.io, `Saved public key ${oneLine(key.keyId)} to ${output}`);
}

async function writePem(target: string, pem: string, force: boolean): Promise<void> {
  try {
    // wx: a file that appeared since the early check is still never replaced without --force.
    await writeFile(target, withNewline(pem), { flag: force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw alreadyExists(target);
    throw new CommandFailedError(`cannot write ${target}: ${code ?? (error as Error).message}`, {
      cause: error,
    });
  }
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
