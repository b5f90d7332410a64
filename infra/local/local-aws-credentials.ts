import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { IamCaller } from '../../functions/core/auth/iam-principal.ts';
import type { DataDir } from './data-dir.ts';
import { LOCAL_ACCOUNT_ID } from './local-config.ts';
import { LocalStackError } from './local-stack-error.ts';

/** The profile name in the file, so it also works as AWS_SHARED_CREDENTIALS_FILE with AWS_PROFILE. */
export const LOCAL_AWS_PROFILE = 'keeptrusts-local';
/** The IAM user the local pair stands for: the caller an IAM-signed local request is recorded as. */
export const LOCAL_IAM_USER_ARN = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${LOCAL_AWS_PROFILE}`;

// The shapes AWS uses (20-character key id, 40-character secret); KTLOCAL marks a key that opens
// only a local stack, so nobody mistakes it for an account's.
const KEY_ID_SHAPE = /^KTLOCAL[A-Z2-7]{13}$/;
const SECRET_SHAPE = /^[A-Za-z0-9+/]{40}$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface LocalAwsCredentials {
  readonly accessKeyId: string;
  /** Printed by `npm start` only when it was created on this start (never logged again). */
  readonly secretAccessKey: string;
  /** Who a request signed with this pair is, as API Gateway's IAM authorizer would say. */
  readonly caller: IamCaller;
  readonly file: string;
  readonly source: 'data dir' | 'created';
}

/**
 * The local stack's SigV4 credential pair: the one saved in the data dir, else a new one (saved
 * with owner-only permissions). Unlike an API token, whose hash is enough to check it, the secret
 * itself is kept: verifying an HMAC signature needs it, as AWS keeps its own copy of every secret
 * access key.
 */
export async function ensureLocalAwsCredentials(dir: DataDir): Promise<LocalAwsCredentials> {
  const file = dir.awsCredentialsFile;
  const saved = await readSaved(file);
  if (saved !== undefined) return withCaller({ ...saved, file, source: 'data dir' });
  const created = { accessKeyId: newAccessKeyId(), secretAccessKey: randomBytes(30).toString('base64') };
  await fs.writeFile(file, fileText(created), { mode: 0o600, flag: 'wx' });
  return withCaller({ ...created, file, source: 'created' });
}

function withCaller(pair: Omit<LocalAwsCredentials, 'caller'>): LocalAwsCredentials {
  const userId = `AIDA${pair.accessKeyId.slice('KTLOCAL'.length)}`;
  return {
    ...pair,
    caller: {
      accessKey: pair.accessKeyId,
      accountId: LOCAL_ACCOUNT_ID,
      callerId: userId,
      userArn: LOCAL_IAM_USER_ARN,
      userId,
      principalOrgId: null,
      cognitoIdentity: null,
    },
  };
}

function newAccessKeyId(): string {
  return `KTLOCAL${Array.from(randomBytes(13), (byte) => BASE32[byte % 32]).join('')}`;
}

function fileText(pair: { accessKeyId: string; secretAccessKey: string }): string {
  return [
    '# The local stack\'s SigV4 credential pair (npm start): it opens only this data dir\'s local API.',
    `[${LOCAL_AWS_PROFILE}]`,
    `aws_access_key_id = ${pair.accessKeyId}`,
    `aws_secret_access_key = ${pair.secretAccessKey}`,
    '',
  ].join('\n');
}

async function readSaved(file: string): Promise<{ accessKeyId: string; secretAccessKey: string } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalStackError(`cannot read the local AWS credentials ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const value = (name: string) => text.match(new RegExp(`^${name}[ \\t]*=[ \\t]*(\\S+)[ \\t]*$`, 'm'))?.[1];
  const accessKeyId = value('aws_access_key_id');
  const secretAccessKey = value('aws_secret_access_key');
  if (
    accessKeyId === undefined ||
    secretAccessKey === undefined ||
    !KEY_ID_SHAPE.test(accessKeyId) ||
    !SECRET_SHAPE.test(secretAccessKey)
  ) {
    throw new LocalStackError(
      `the local AWS credentials ${file} are corrupt; delete that file and npm start creates a new pair`,
    );
  }
  return { accessKeyId, secretAccessKey };
}
