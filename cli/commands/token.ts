import type { Command } from 'commander';
import { SCOPES } from '../../functions/core/auth/token-record.ts';
import { type CliContext, globalOptions } from '../context.ts';
import { type CreateTokenFlags, createToken, listTokens, revokeToken } from '../token/token-actions.ts';

const EXAMPLE_TOKEN_ID = 'tok_3f9a0c1d2e4b';

/**
 * `kt token ...`: API tokens with scopes, an optional team and an optional expiry (admin scope).
 * This file only declares the commands and their help; the work is in cli/token/ (commander is
 * ESM-only, so unit tests call those directly).
 */
export function registerTokenCommands(program: Command, context: CliContext): void {
  const token = program
    .command('token')
    .description('Create, list and revoke API tokens (needs a token with the admin scope)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  $ kt token create --name reader --scopes exports:read --expires 90d',
        '  $ kt token list',
        `  $ kt token revoke --id ${EXAMPLE_TOKEN_ID}`,
        '',
        `Scopes: ${SCOPES.join(', ')} (admin implies every other).`,
        '',
      ].join('\n'),
    );

  token
    .command('create')
    .description(
      'Create a token and print its secret once, with its id, scopes, team and expiry. The API keeps ' +
        'only a hash: save the secret when it is shown.',
    )
    .requiredOption('--name <name>', 'a name for the token: 1 to 64 letters, digits, . _ -')
    .requiredOption('--scopes <list>', `comma-separated scopes: ${SCOPES.join(', ')}`)
    .option('--team <team>', "restrict the token to one team's events, exports and schedules")
    .option(
      '--expires <duration>',
      'expire after this long: Nh, Nd or Nw (e.g. 90d; at most 3650d; default never)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt token create --name reader --scopes exports:read,exports:write --team engineering --expires 90d',
        '  ✓ Token created',
        `  Token ID: ${EXAMPLE_TOKEN_ID}`,
        '  Name: reader',
        '  Scopes: exports:read, exports:write',
        '  Team: engineering',
        '  Expires: 2026-07-22T09:15:32Z',
        '',
        '  Save this token now: it is not shown again (the API keeps only its hash).',
        '  Token: kt_…',
        '',
        '  $ kt token create --name ci --scopes events:write -o json | jq -r .token',
        '',
      ].join('\n'),
    )
    .action(async (flags: CreateTokenFlags, command: Command) => {
      await createToken(context, globalOptions(command), flags);
    });

  token
    .command('list')
    .description('List tokens, newest first, with their scopes, team, expiry and status (never a secret)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt token list',
        '  ID                NAME    SCOPES        TEAM  CREATED               EXPIRES               STATUS',
        `  ${EXAMPLE_TOKEN_ID}  reader  exports:read  -     2026-04-23T14:30:00Z  2026-07-22T14:30:00Z  active`,
        '',
        '  $ kt token list -o json',
        '',
      ].join('\n'),
    )
    .action(async (_flags: unknown, command: Command) => {
      await listTokens(context, globalOptions(command));
    });

  token
    .command('revoke')
    .description(
      'Revoke a token: the next request with it is refused (401). Revoking it again changes nothing.',
    )
    .requiredOption('--id <id>', 'the token id (tok_...; kt token list shows them)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        `  $ kt token revoke --id ${EXAMPLE_TOKEN_ID}`,
        `  ✓ Token ${EXAMPLE_TOKEN_ID} revoked; requests with it are refused from now on`,
        '',
      ].join('\n'),
    )
    .action(async (flags: { id: string }, command: Command) => {
      await revokeToken(context, globalOptions(command), flags);
    });
}
