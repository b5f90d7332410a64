import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ValidationError } from '../../core/errors.ts';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** How deep a request body's arrays and objects may nest; deeper input is refused before parsing. */
export const MAX_JSON_DEPTH = 64;

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The request body as JSON, or a ValidationError naming `content-type` or `body` and the rule
 * (never a 500 for a client's typo): the media type must be `application/json` (or `…+json`) in
 * UTF-8, the bytes valid UTF-8, the text one JSON value nesting at most MAX_JSON_DEPTH levels.
 */
export function jsonBodyOf(event: APIGatewayProxyEventV2): unknown {
  requireJsonContentType(event.headers?.['content-type']);
  const text = bodyText(event);
  const depth = nestingDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new ValidationError('The request body nests too deeply.', [
      { field: 'body', rule: `must nest arrays and objects at most ${MAX_JSON_DEPTH} levels deep` },
    ]);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(
      'The request body is not valid JSON.',
      [{ field: 'body', rule: 'must be valid JSON' }],
      {
        cause,
      },
    );
  }
}

/**
 * For a POST that takes no fields (pause, resume, redeliver, cancel): no body, or a JSON object with no
 * field (`{}`, what kt sends). Anything else is refused rather than silently ignored.
 */
export function noFieldsBodyOf(event: APIGatewayProxyEventV2): void {
  if ((event.body ?? '') === '') return;
  const body = jsonBodyOf(event);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('The request body is invalid.', [
      { field: 'body', rule: 'must be empty or an empty JSON object' },
    ]);
  }
  const fields = Object.keys(body);
  if (fields.length > 0) {
    throw new ValidationError(
      'The request body is invalid.',
      fields.map((field) => ({ field, rule: 'is not a known field; this request takes none' })),
    );
  }
}

function requireJsonContentType(header: string | undefined): void {
  const [mediaType = '', ...parameters] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (!/^application\/([a-z0-9!#$&^_.-]+\+)?json$/.test(mediaType)) {
    throw new ValidationError('The request body must be JSON.', [
      { field: 'content-type', rule: 'must be application/json' },
    ]);
  }
  const charset = parameters.find((parameter) => parameter.startsWith('charset='));
  if (charset !== undefined && !/^charset="?utf-8"?$/.test(charset)) {
    throw new ValidationError('The request body must be UTF-8 JSON.', [
      { field: 'content-type', rule: 'must be application/json with no charset or charset=utf-8' },
    ]);
  }
}

function bodyText(event: APIGatewayProxyEventV2): string {
  const body = event.body ?? '';
  if (!event.isBase64Encoded) return body;
  try {
    return UTF8.decode(Buffer.from(body, 'base64'));
  } catch (cause) {
    throw new ValidationError(
      'The request body is not UTF-8 text.',
      [{ field: 'body', rule: 'must be UTF-8' }],
      {
        cause,
      },
    );
  }
}

/** The deepest nesting of `[` and `{` outside strings; a linear scan, so any depth is safe to measure. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character; a quote ends the string.
      if (char === 0x5c) i++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return deepest;
    } else if (char === 0x5d || char === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
