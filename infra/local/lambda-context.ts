import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * The Lambda context a handler gets when the local stack calls it in-process. The remaining time
 * counts down from `timeoutMs` like a real invocation's; once `stopping()` is true it is 0, so a
 * handler that watches its budget (ExportPage) winds down when the local stack shuts down.
 */
export function lambdaContext(
  functionName: string,
  timeoutMs: number,
  options: { readonly requestId?: string; readonly stopping?: () => boolean } = {},
): Context {
  const deadline = Date.now() + timeoutMs;
  const stopping = options.stopping ?? (() => false);
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: options.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => (stopping() ? 0 : Math.max(0, deadline - Date.now())),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
