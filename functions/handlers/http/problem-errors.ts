import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { logger } from './logger.ts';
import { problemFor, problemResponse } from './problem.ts';

/** Turns every error into an RFC 9457 response; server faults are logged with their cause. */
export function problemErrors(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  return {
    onError: async (request) => {
      const problem = problemFor(request.error);
      if (problem.status >= 500) {
        logger.error('request failed', {
          error: request.error as Error,
          method: request.event.requestContext?.http?.method,
          path: request.event.requestContext?.http?.path,
        });
      }
      request.response = problemResponse(problem);
    },
  };
}
