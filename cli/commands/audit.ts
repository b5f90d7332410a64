import type { Command } from 'commander';
import { AUDIT_ACTIONS } from '../../functions/core/audit/audit-chain.ts';
import { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from '../../functions/core/audit/read-audit.ts';
import { type ListAuditFlags, listAudit } from '../audit/list-action.ts';
import { type VerifyAuditFlags, verifyAudit } from '../audit/verify-action.ts';
import { type CliContext, globalOptions } from '../context.ts';

/**
 * `kt audit ...`: the tamper-evident audit trail. This file only declares the commands and their
 * help; the work is in cli/audit/ (commander is ESM-only, so unit tests call those directly).
 */
export function registerAuditCommands(program: Command, context: CliContext): void {
  const audit = program
    .command('audit')
    .description('List and verify the tamper-evident audit trail of exports')
    .addHelpText(
      'after',
      ['', 'Example:', '  $ kt audit list --action export. --limit 20', '  $ kt audit verify', ''].join('\n'),
    );

  audit
    .command('list')
    .description(
      'List audit entries in chain order. Filters are for reading; `kt audit verify` checks the whole chain.',
    )
    .option('--from-seq <n>', 'first seq to list')
    .option('--to-seq <n>', 'last seq to list')
    .option('--since <instant>', 'only entries at or after this ISO 8601 UTC time')
    .option('--until <instant>', 'only entries at or before this ISO 8601 UTC time')
    .option('--action <action>', `one of ${AUDIT_ACTIONS.join(', ')}, or a prefix such as export.`)
    .option('--subject <id>', 'only entries about this export or event id')
    .option('--limit <n>', `entries per page, 1 to ${MAX_AUDIT_LIMIT} (default ${DEFAULT_AUDIT_LIMIT})`)
    .option('--cursor <cursor>', 'continue a previous listing (kt prints the value when there is more)')
    .option('--all', 'fetch every page')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt audit list --subject exp_01jq8m3k7b5x9c2d4f6h',
        '  SEQ  AT                    ACTION            SUBJECT                   ACTOR',
        '    1  2026-04-20T09:15:32Z  export.created    exp_01jq8m3k7b5x9c2d4f6h  tok_0123456789ab',
        '    2  2026-04-20T09:16:00Z  export.completed  exp_01jq8m3k7b5x9c2d4f6h  workflow',
        '',
        '  $ kt audit list --since 2026-04-20T00:00:00Z --action export. --all',
        '  $ kt audit list --all -o json > audit.json     # the raw entries, for kt audit verify --file',
        '',
      ].join('\n'),
    )
    .action(async (flags: ListAuditFlags, command: Command) => {
      await listAudit(context, globalOptions(command), flags);
    });

  audit
    .command('verify')
    .description(
      'Check the whole audit trail: every hash, every link and every seq, then the latest signed ' +
        'checkpoint (its signature, and that the chain still reaches it). Exit 1 when it is broken.',
    )
    .option('--from-seq <n>', 'start at this seq, anchored on the entry before it')
    .option('--file <path>', 'verify a saved listing (kt audit list --all -o json) offline')
    .option('--checkpoint <path>', 'a saved checkpoint (GET /v1/audit/checkpoint) instead of the latest')
    .option('--public-key <path>', 'the PEM public key to check the checkpoint with (offline)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt audit verify',
        '  ✓ Audit trail intact: 1,204 entries, head seq 1204 hash 9c1e…',
        '  ✓ Checkpoint seq 1200 signed by kt-local-3f2a… at 2026-04-20T09:15:32Z: signature valid, chain matches',
        '',
        '  $ kt audit verify --file audit.json --checkpoint checkpoint.json --public-key key.pem',
        '  ✗ Audit trail broken at seq 7: expected seq 7, found seq 9: a gap, 2 entries missing (7..8)',
        '',
      ].join('\n'),
    )
    .action(async (flags: VerifyAuditFlags, command: Command) => {
      await verifyAudit(context, globalOptions(command), flags);
    });
}
