import type { ApiClient } from '../api/client.ts';
import { withFlagNames } from '../api/problems.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { ApiError, oneLine, UsageError } from '../errors.ts';
import { toSecond } from '../export/render.ts';
import {
  formatColumns,
  formatFields,
  isHumanOutput,
  printJson,
  printLines,
  printSuccess,
} from '../output.ts';
import { TOKEN_ID } from '../../functions/core/auth/token-operations.ts';
import { tokenRequestIssues } from '../../functions/core/auth/token-request.ts';
import { refuseIssues } from '../request-checks.ts';

/**
 * `kt token create | list | revoke`: API tokens (POST/GET /v1/tokens, DELETE /v1/tokens/{id}).
 * Flags are checked with the API's own schema (functions/core/auth/token-request.ts) before the
 * client is built, so a wrong command line is a usage error (exit 2) even without a token.
 */

export interface CreateTokenFlags {
  readonly name: string;
  readonly scopes: string;
  readonly team?: string;
  readonly expires?: string;
}

/** A token as `GET /v1/tokens` lists it: never a secret or a hash. */
export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly team?: string;
  readonly created: string;
  readonly expires?: string;
  readonly revoked?: string;
  readonly status: string;
}

const SECRET = /^kt_[A-Za-z0-9_-]{43}$/;
/** The API's body fields, in the words the user typed. */
const FLAG_FOR: Readonly<Record<string, string>> = {
  name: '--name',
  scopes: '--scopes',
  team: '--team',
  expiresIn: '--expires',
};

/** The `POST /v1/tokens` body for the flags; a UsageError naming the first wrong flag. */
export function tokenRequestFor(flags: CreateTokenFlags): Record<string, unknown> {
  const scopes = flags.scopes
    .split(',')
    .map((scope) => scope.trim())
    .filter((scope) => scope !== '');
  const body = {
    name: flags.name,
    scopes,
    ...(flags.team === undefined ? {} : { team: flags.team }),
    ...(flags.expires === undefined ? {} : { expiresIn: flags.expires.trim() }),
  };
  refuseIssues(tokenRequestIssues(body), FLAG_FOR);
  return body;
}

export async function createToken(
  context: CliContext,
  globals: GlobalOptions,
  flags: CreateTokenFlags,
): Promise<void> {
  const body = tokenRequestFor(flags);
  const client = apiClientFor(context, globals);
  // Not retried: a repeated POST would make a second token whose secret nobody saw.
  const response = await withFlagNames(FLAG_FOR, client.post('/v1/tokens', body, { idempotent: false }));
  const created = readCreated(response.body, response.status);
  // From here on no error line, debug trace or later message may show it; only the lines below do.
  context.secrets.add(created.token);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, created);
    return;
  }
  printSuccess(context.io, 'Token created');
  printLines(context.io, [
    ...detailLines(created),
    '',
    'Save this token now: it is not shown again (the API keeps only its hash).',
    `Token: ${created.token}`,
    '',
    'Use it with: export KEEPTRUSTS_API_TOKEN="<the token above>"',
    `Revoke it with: kt token revoke --id ${created.id}`,
  ]);
}

export async function listTokens(context: CliContext, globals: GlobalOptions): Promise<void> {
  const client = apiClientFor(context, globals);
  const tokens = await fetchAllTokens(client);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, { tokens });
    return;
  }
  if (tokens.length === 0) {
    context.io.stdout.write('No tokens.\n');
    return;
  }
  printLines(context.io, tokenTable(tokens));
}

export async function revokeToken(
  context: CliContext,
  globals: GlobalOptions,
  flags: { readonly id: string },
): Promise<void> {
  const id = flags.id.trim();
  if (!TOKEN_ID.test(id)) {
    throw new UsageError(
      `--id must be a token id such as tok_3f9a0c1d2e4b (kt token list shows them; got "${oneLine(id)}")`,
    );
  }
  const response = await apiClientFor(context, globals).delete(`/v1/tokens/${id}`);
  const view = readView(response.body, response.status);
  if (!isHumanOutput(globals.outputFormat)) {
    printJson(context.io, view);
    return;
  }
  printSuccess(context.io, `Token ${view.id} revoked; requests with it are refused from now on`);
  printLines(context.io, detailLines(view));
}

/** The `kt token list` table: a header and one aligned row per token. */
export function tokenTable(tokens: readonly TokenView[]): string[] {
  const rows = tokens.map((token) => [
    token.id,
    oneLine(token.name),
    token.scopes.map(oneLine).join(','),
    token.team === undefined ? '-' : oneLine(token.team),
    toSecond(token.created),
    token.expires === undefined ? 'never' : toSecond(token.expires),
    oneLine(token.status),
  ]);
  return formatColumns([['ID', 'NAME', 'SCOPES', 'TEAM', 'CREATED', 'EXPIRES', 'STATUS'], ...rows]);
}

function detailLines(view: TokenView): string[] {
  return formatFields([
    ['Token ID', view.id],
    ['Name', oneLine(view.name)],
    ['Scopes', view.scopes.map(oneLine).join(', ')],
    ['Team', view.team === undefined ? 'any (not restricted)' : oneLine(view.team)],
    ['Expires', view.expires === undefined ? 'never' : toSecond(view.expires)],
    ['Revoked', view.revoked === undefined ? undefined : toSecond(view.revoked)],
  ]);
}

async function fetchAllTokens(client: ApiClient): Promise<TokenView[]> {
  const tokens: TokenView[] = [];
  let cursor: string | undefined;
  // At most a few hundred tokens; the page bound stops a server that keeps sending cursors.
  for (let page = 0; page < 1000; page += 1) {
    const response = await client.get('/v1/tokens', { query: { limit: 100, cursor } });
    const body = response.body as { tokens?: unknown; cursor?: unknown } | undefined;
    if (body === undefined || body === null || !Array.isArray(body.tokens)) {
      throw new ApiError(
        'the API sent a token list the CLI cannot read (no "tokens" array)',
        response.status,
      );
    }
    for (const token of body.tokens) tokens.push(readView(token, response.status));
    if (typeof body.cursor !== 'string' || body.cursor === '') return tokens;
    cursor = body.cursor;
  }
  return tokens;
}

/** Checks a token view; an ApiError naming what is wrong (never echoing the body). */
function readView(body: unknown, status: number): TokenView {
  const fail = (what: string) => new ApiError(`the API sent a token the CLI cannot read (${what})`, status);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail('not a JSON object');
  const value = body as Record<string, unknown>;
  if (typeof value.id !== 'string' || !TOKEN_ID.test(value.id)) throw fail('"id" is not a token id');
  if (typeof value.name !== 'string') throw fail('"name" is not a string');
  if (!Array.isArray(value.scopes) || !value.scopes.every((s) => typeof s === 'string'))
    throw fail('"scopes"');
  if (typeof value.created !== 'string') throw fail('"created" is not a string');
  if (typeof value.status !== 'string') throw fail('"status" is not a string');
  for (const field of ['team', 'expires', 'revoked']) {
    if (value[field] !== undefined && typeof value[field] !== 'string')
      throw fail(`"${field}" is not a string`);
  }
  return {
    id: value.id,
    name: value.name,
    scopes: value.scopes as string[],
    created: value.created,
    status: value.status,
    ...(value.team === undefined ? {} : { team: value.team as string }),
    ...(value.expires === undefined ? {} : { expires: value.expires as string }),
    ...(value.revoked === undefined ? {} : { revoked: value.revoked as string }),
  };
}

function readCreated(body: unknown, status: number): TokenView & { readonly token: string } {
  const view = readView(body, status);
  const token = (body as Record<string, unknown>).token;
  if (typeof token !== 'string' || !SECRET.test(token)) {
    throw new ApiError(
      'the API created a token but sent no secret the CLI can read; revoke it and try again',
      status,
    );
  }
  return { token, ...view };
}
