import { promises as fs } from 'node:fs';
import { isLive } from '../../functions/core/auth/token-record.ts';
import {
  generateToken,
  hashToken,
  isWellFormedToken,
  newTokenRecord,
} from '../../functions/core/auth/tokens.ts';
import type { TokenStore } from '../../functions/core/ports.ts';
import type { DataDir } from './data-dir.ts';
import { LocalStackError } from './local-stack-error.ts';

export interface AdminToken {
  /** The secret: printed by `npm start` only when it was created on this start (never logged again). */
  readonly token: string;
  /** The file it is saved in, when it comes from (or was saved to) the data dir. */
  readonly file?: string;
  /** Where it came from: the environment, the data dir, or created on this start. */
  readonly source: 'environment' | 'data dir' | 'created';
}

/**
 * The local stack's admin token: KEEPTRUSTS_API_TOKEN when set, else the one saved in the data dir,
 * else a new one (saved with owner-only permissions). Only its hash goes into the token store.
 */
export async function ensureAdminToken(
  dir: DataDir,
  store: TokenStore,
  fromEnv?: string,
): Promise<AdminToken> {
  let admin: AdminToken;
  if (fromEnv !== undefined) {
    if (!isWellFormedToken(fromEnv)) {
      throw new LocalStackError(
        'KEEPTRUSTS_API_TOKEN must be a token of the form kt_<43 characters>; unset it and npm start creates one',
      );
    }
    admin = { token: fromEnv, source: 'environment' };
  } else {
    const saved = await readSavedToken(dir.tokenFile);
    if (saved !== undefined) {
      admin = { token: saved, source: 'data dir', file: dir.tokenFile };
    } else {
      admin = { token: generateToken(), source: 'created', file: dir.tokenFile };
      await fs.writeFile(dir.tokenFile, `${admin.token}\n`, { mode: 0o600 });
    }
  }
  const stored = await store.getTokenByHash(hashToken(admin.token));
  if (stored !== undefined && !isLive(stored, new Date())) {
    // Revoked with kt token revoke (or expired): it stays refused, as any other token would.
    throw new LocalStackError(
      admin.source === 'environment'
        ? 'the token in KEEPTRUSTS_API_TOKEN was revoked or has expired; unset it and npm start uses the saved one'
        : `the saved admin token ${dir.tokenFile} was revoked or has expired; delete that file and npm start creates a new one`,
    );
  }
  if (stored === undefined) {
    await store.putToken(
      newTokenRecord(admin.token, { name: `local admin (${admin.source})`, scopes: ['admin'] }),
    );
  }
  return admin;
}

async function readSavedToken(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalStackError(`cannot read the saved admin token ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!isWellFormedToken(text)) {
    throw new LocalStackError(
      `the saved admin token ${file} is corrupt; delete that file and npm start creates a new one`,
    );
  }
  return text;
}
