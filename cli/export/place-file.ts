import { randomBytes } from 'node:crypto';
import { link, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { alreadyExists } from './target-path.ts';

/**
 * How `kt export download` puts files in place: written whole to a hidden temporary file beside
 * the target, then moved there in one step, so a reader never sees half a file and an existing
 * file is never replaced without --force, even one that appears while the download runs.
 */

/** Hidden and next to the target, so the final rename never crosses a filesystem. */
export function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
}

// Filesystems without hard links (some network and FAT mounts) answer these.
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Moves a finished temporary file into place. Without --force a hard link is used: it fails if
 * the target appeared meanwhile, where a rename would silently replace it.
 */
export async function placeFile(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, target);
    return;
  }
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST') throw alreadyExists(target);
    if (typeof code !== 'string' || !NO_HARD_LINKS.has(code)) throw error;
    await rename(temp, target);
    return;
  }
  // The target is in place; a leftover hidden temp name is untidy but harmless.
  await rm(temp, { force: true }).catch(() => undefined);
}

/** Writes a small text file atomically (temporary file, flushed, then placed); nothing is left on failure. */
export async function writeFileAtomically(target: string, text: string, overwrite: boolean): Promise<void> {
  const temp = temporaryPathFor(target);
  try {
    await writeFile(temp, text, { flag: 'wx', flush: true });
    await placeFile(temp, target, overwrite);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}
