import { z } from 'zod';
import type { FieldIssue } from '../errors.ts';
import { checkRequest, NAME, parseRequest, requestObject } from '../request-schema.ts';
import { SCOPES, type Scope } from './token-record.ts';

/**
 * The `POST /v1/tokens` body, as the API checks it and as `kt token create` checks its flags
 * before it sends them (one schema, so the two cannot disagree).
 */

export const TOKEN_NAME = NAME;
export const MAX_TEAM_CHARS = 256;

/** `expiresIn`: a whole number of hours, days or weeks, from one hour to ten years. */
export const EXPIRES_IN = /^([1-9]\d{0,5})([hdw])$/;
const HOUR_MS = 3_600_000;
const UNIT_MS = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS } as const;
export const MAX_EXPIRES_IN_MS = 3650 * UNIT_MS.d;
export const EXPIRES_IN_RULE =
  'must be a whole number of hours, days or weeks such as 12h, 90d or 4w, at most 3650d';

/** `90d` → milliseconds, or undefined when the text is not a valid `expiresIn`. */
export function expiresInMs(text: string): number | undefined {
  const match = EXPIRES_IN.exec(text);
  if (match === null) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > MAX_EXPIRES_IN_MS ? undefined : ms;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export const tokenRequestSchema = requestObject(
  {
    name: z
      .string({ error: 'must be a string' })
      .regex(TOKEN_NAME, { error: 'must be 1 to 64 characters of letters, digits, . _ -' }),
    scopes: z
      .array(z.enum(SCOPES, { error: `must each be one of ${SCOPES.join(', ')}` }), {
        error: `must be a list of scopes (${SCOPES.join(', ')})`,
      })
      .min(1, { error: 'must name at least one scope' })
      .max(SCOPES.length, { error: `must name at most ${SCOPES.length} scopes` })
      .refine((scopes) => new Set(scopes).size === scopes.length, { error: 'must not repeat a scope' }),
    team: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must not be empty' })
      .max(MAX_TEAM_CHARS, { error: `must be at most ${MAX_TEAM_CHARS} characters` })
      .refine((value) => !CONTROL.test(value), { error: 'must not contain control characters' })
      .optional(),
    expiresIn: z
      .string({ error: EXPIRES_IN_RULE })
      .refine((value) => expiresInMs(value) !== undefined, { error: EXPIRES_IN_RULE })
      .optional(),
  },
  { unknown: (allowed) => `is not a field of a token request (${allowed})` },
);

export interface TokenRequest {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly team?: string;
  readonly expiresIn?: string;
}

/** The body's issues, each naming its field and rule; empty when it is valid. */
export function tokenRequestIssues(body: unknown): FieldIssue[] {
  const checked = checkRequest(tokenRequestSchema, body);
  return checked.ok ? [] : checked.issues;
}

/** Validates a `POST /v1/tokens` body; a ValidationError naming every offending field. */
export function parseTokenRequest(body: unknown): TokenRequest {
  const value = parseRequest(tokenRequestSchema, body, 'The token request is invalid.');
  return {
    name: value.name,
    scopes: value.scopes,
    ...(value.team === undefined ? {} : { team: value.team }),
    ...(value.expiresIn === undefined ? {} : { expiresIn: value.expiresIn }),
  };
}
