import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { problemErrors } from './http/problem-errors.ts';
import { postEvents } from './routes/events.ts';

/** The API Lambda: one router, every route a thin function in routes/. */
export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>()
  .use(problemErrors())
  .handler(
    httpRouterHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>([
      { method: 'POST', path: '/v1/events', handler: postEvents },
    ]),
  );
