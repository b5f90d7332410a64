import { lstat, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CommandFailedError, oneLine } from '../errors.ts';

/**
 * Where `kt export download` writes, decided before any byte arrives: the `--output` path, a
 * directory it names, or the API's filename in the current directory.
 */

/** The file to write; `--output` naming an existing directory gets the API's filename inside it. */
export async function chooseTarget(
  output: string | undefined,
  apiFilename: string,
  id: string,
): Promise<string> {
  if (output === undefined) return safeFilename(apiFilename, id);
  if (await isDirectory(output)) return join(output, safeFilename(apiFilename, id));
  return output;
}

/**
 * The API's filename reduced to a plain name in the chosen directory: the server is trusted for
 * the bytes (they are verified), not for where on this machine they land, so no `../`, no
 * absolute path and no hidden dotfile.
 */
export function safeFilename(apiFilename: string, id: string): string {
  const name = oneLine(basename(apiFilename.replaceAll('\\', '/'))).replace(/^\.+/, '');
  return name === '' ? `${id}.export` : name;
}

/**
 * The early check for a named `--output` file, before the API is asked anything: an existing file
 * without --force is refused at once. (A directory is checked once the API names the file.)
 */
export async function checkNamedOutput(output: string | undefined, force: boolean): Promise<void> {
  if (output === undefined || (await isDirectory(output))) return;
  await refuseExisting(output, force);
}

/** Refuses (exit 1, nothing written) when the target exists and `--force` was not given. */
export async function refuseExisting(target: string, force: boolean): Promise<void> {
  if (force) return;
  if (await exists(target)) throw alreadyExists(target);
}

export function alreadyExists(target: string): CommandFailedError {
  return new CommandFailedError(`${target} already exists; pass --force to overwrite it`);
}

async function exists(path: string): Promise<boolean> {
  try {
    // lstat: a symlink (even a dangling one) at the target is something the user has put there.
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
