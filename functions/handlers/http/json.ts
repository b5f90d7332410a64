import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ValidationError } from '../../core/errors.ts';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The request body as JSON, or a ValidationError naming `body` (never a 500 for a client's typo). */
export function jsonBodyOf(event: APIGatewayProxyEventV2): unknown {
  const contentType = event.headers['content-type'] ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new ValidationError('The request body must be JSON.', [
      { field: 'content-type', rule: 'must be application/json' },
    ]);
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError('The request body is not valid JSON.', [{ field: 'body', rule: 'must be valid JSON' }], {
      cause,
    });
  }
}
