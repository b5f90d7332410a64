import type { Command } from 'commander';
import { type CliContext, globalOptions } from '../context.ts';
import { type GetKeyFlags, getKey, listKeys } from '../keys/key-actions.ts';

const EXAMPLE_KEY_ID = 'kt-local-3f9a0c1d2e4b5a69';

/**
 * `kt keys ...`: the public keys that sign evidence. This file only declares the commands and
 * their help; the work is in cli/keys/ (commander is ESM-only, so unit tests call those directly).
 */
export function registerKeysCommands(program: Command, context: CliContext): void {
  const keys = program
    .command('keys')
    .description('List and fetch the public keys that verify signed evidence (manifests, audit checkpoints)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  $ kt keys list',
        `  $ kt keys get --id ${EXAMPLE_KEY_ID} --output key.pem`,
        '  $ openssl dgst -sha256 -verify key.pem -signature signature.der manifest.json',
        '',
      ].join('\n'),
    );

  keys
    .command('list')
    .description('List the signing keys: the current one first, then retired ones that signed older evidence')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt keys list',
        '  KEY ID                      ALGORITHM          CURRENT  CREATED',
        `  ${EXAMPLE_KEY_ID}   ECDSA_P256_SHA256  yes      2026-04-23T14:30:00Z`,
        '',
        '  $ kt keys list -o json | jq -r ".keys[0].keyId"',
        '',
      ].join('\n'),
    )
    .action(async (_flags: unknown, command: Command) => {
      await listKeys(context, globalOptions(command));
    });

  keys
    .command('get')
    .description(
      "Print a key's public key (PEM), or write it to a file; an existing file is never replaced " +
        'without --force.',
    )
    .requiredOption('--id <id>', 'the key id (kt keys list shows them)')
    .option('--output <path>', 'file to write the PEM to (default: print it)')
    .option('--force', 'replace the output file if it exists')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        `  $ kt keys get --id ${EXAMPLE_KEY_ID} --output key.pem`,
        `  ✓ Saved public key ${EXAMPLE_KEY_ID} to key.pem`,
        '',
        `  $ kt keys get --id ${EXAMPLE_KEY_ID} > key.pem`,
        `  $ kt keys get --id ${EXAMPLE_KEY_ID} -o json`,
        '',
      ].join('\n'),
    )
    .action(async (flags: GetKeyFlags, command: Command) => {
      await getKey(context, globalOptions(command), flags);
    });
}
