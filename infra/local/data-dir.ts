import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { LocalStackError } from './local-stack-error.ts';

const STATE_FILE = 'state.json';
const STATE_VERSION = 1;

/** What the local stack remembers about its data dir between runs. */
export interface DataDirState {
  readonly version: number;
  readonly createdAt: string;
  /** The demo-data request, written before seeding so that an interrupted seed resumes identically. */
  readonly seed?: {
    readonly count: number;
    readonly from: string;
    readonly to: string;
    readonly done: boolean;
  };
}

export interface DataDir {
  readonly root: string;
  readonly dynamodbPath: string;
  readonly s3Path: string;
  readonly tokenFile: string;
  /** The local SigV4 credential pair (owner-only; the secret in plain text, as HMAC needs it). */
  readonly awsCredentialsFile: string;
  /** The evidence signing key (private, owner-only) and every public key that has signed. */
  readonly signingKeyFile: string;
  readonly publicKeysDir: string;
  readonly isNew: boolean;
  state: DataDirState;
  save(state: DataDirState): Promise<void>;
}

/** Creates or opens the data dir, refusing one that is unwritable or whose state is unreadable. */
export async function openDataDir(root: string): Promise<DataDir> {
  try {
    await fs.mkdir(root, { recursive: true });
    await fs.access(root, constants.W_OK | constants.R_OK);
    const probe = path.join(root, `.write-test-${process.pid}`);
    await fs.writeFile(probe, '');
    await fs.rm(probe);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new LocalStackError(
      `data dir ${root} is not a writable folder (${reason}); set KT_DATA_DIR to another path`,
      {
        cause,
      },
    );
  }

  const stateFile = path.join(root, STATE_FILE);
  let state: DataDirState | undefined;
  try {
    state = parseState(await fs.readFile(stateFile, 'utf8'));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LocalStackError(
        `data dir ${root} is corrupt (${STATE_FILE} is unreadable); move it away or set KT_DATA_DIR to start afresh`,
        { cause },
      );
    }
  }
  const isNew = state === undefined;
  const dir: DataDir = {
    root,
    dynamodbPath: path.join(root, 'dynamodb'),
    s3Path: path.join(root, 's3'),
    tokenFile: path.join(root, 'admin-token'),
    awsCredentialsFile: path.join(root, 'aws-credentials'),
    signingKeyFile: path.join(root, 'signing-key.pem'),
    publicKeysDir: path.join(root, 'keys'),
    isNew,
    state: state ?? { version: STATE_VERSION, createdAt: new Date().toISOString() },
    async save(next) {
      // Write-then-rename so a crash never leaves a half-written state file.
      const temp = `${stateFile}.tmp`;
      await fs.writeFile(temp, `${JSON.stringify(next, null, 2)}\n`);
      await fs.rename(temp, stateFile);
      dir.state = next;
    },
  };
  if (isNew) await dir.save(dir.state);
  return dir;
}

function parseState(text: string): DataDirState {
  const value = JSON.parse(text) as Partial<DataDirState>;
  if (
    value === null ||
    typeof value !== 'object' ||
    value.version !== STATE_VERSION ||
    typeof value.createdAt !== 'string'
  ) {
    throw new Error('unexpected state shape');
  }
  return value as DataDirState;
}
