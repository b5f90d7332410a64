import { createHash } from 'node:crypto';
import { MAX_ID_CHARS } from '../audit/audit-chain.ts';
import { AuthenticationError } from '../errors.ts';
import type { Principal } from './token-record.ts';

/**
 * The caller API Gateway vouches for on a route authorised with AWS_IAM
 * (`requestContext.authorizer.iam` of an HTTP API payload 2.0 event). Only the gateway (or the
 * local front, after checking the signature itself) sets it; no header can.
 */
export interface IamCaller {
  readonly accessKey?: string | null;
  readonly accountId?: string | null;
  readonly callerId?: string | null;
  readonly userArn?: string | null;
  readonly userId?: string | null;
  readonly principalOrgId?: string | null;
  readonly cognitoIdentity?: unknown;
}

/** What an IAM principal's handle starts with; API token ids start with `tok_`, so the two never meet. */
export const IAM_PRINCIPAL_PREFIX = 'iam:';

/**
 * The principal for an IAM-signed request. The IAM policy on `execute-api:Invoke` route ARNs is what
 * scopes an IAM caller per route, so once the gateway has let it through it holds every scope and no
 * team. Its handle (jobs' owner, audit actor, idempotency scope) is `iam:<userArn>`: readable, stable
 * for the caller, and not a secret. An ARN long enough to break the audit trail's limit on actors is
 * shortened and ends in a digest of the whole ARN, so two long ARNs never share a handle.
 */
export function iamPrincipal(iam: IamCaller): Principal {
  const arn = typeof iam.userArn === 'string' ? iam.userArn.trim() : '';
  // A caller without an ARN cannot be named in the audit trail: refuse it rather than guess.
  if (arn === '' || /\p{Cc}/u.test(arn)) {
    throw new AuthenticationError('The IAM-signed request carries no caller ARN.');
  }
  return { tokenId: iamHandle(arn), name: arn, scopes: ['admin'] };
}

function iamHandle(arn: string): string {
  const handle = `${IAM_PRINCIPAL_PREFIX}${arn}`;
  if (handle.length <= MAX_ID_CHARS) return handle;
  const digest = createHash('sha256').update(arn, 'utf8').digest('hex').slice(0, 16);
  return `${handle.slice(0, MAX_ID_CHARS - digest.length - 1)}#${digest}`;
}
