import { type Command, InvalidArgumentError, Option } from 'commander';
import { type CliContext, globalOptions } from '../context.ts';
import { cancelExport } from '../export/cancel-action.ts';
import { type CreateFlags, createExport } from '../export/create-action.ts';
import { type DownloadFlags, downloadExport } from '../export/download-action.ts';
import { redeliverExport } from '../export/redeliver-action.ts';
import { type VerifyEvidenceFlags, verifyEvidence } from '../export/verify-action.ts';
import { EXAMPLE_EXPORT_ID } from '../export/flags.ts';
import {
  DEFAULT_LIST_LIMIT,
  deleteExport,
  listExports,
  MAX_LIST_LIMIT,
  showExportStatus,
} from '../export/job-actions.ts';
import { EXPORT_FORMAT_CHOICES } from '../export/job-view.ts';
import { REPORT_PAGE_SIZES } from '../../functions/core/export/report/page-size.ts';
import { registerScheduleCommands } from './export-schedule.ts';

/**
 * `kt export ...`: compliance evidence export jobs. This file only declares the commands and their
 * help; the work is in cli/export/ (commander is ESM-only, so unit tests call those directly).
 */
export function registerExportCommands(program: Command, context: CliContext): void {
  const id = EXAMPLE_EXPORT_ID;
  const exportGroup = program
    .command('export')
    .description('Create, follow, download, cancel and delete compliance evidence exports')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  $ kt export create --from "2026-04-16T00:00:00Z" --to "2026-04-23T23:59:59Z" --format json --wait',
        `  $ kt export download --id ${id} --output compliance-report.json`,
        '',
      ].join('\n'),
    );

  exportGroup
    .command('create')
    .description(
      'Start an export job for the decision events in a time range, optionally filtered by ' +
        'team and policy. The job runs in the background: follow it with `kt export status`, ' +
        'or pass --wait.',
    )
    .requiredOption('--from <instant>', 'start of the range, ISO 8601 UTC (e.g. 2026-04-16T00:00:00Z)')
    .requiredOption('--to <instant>', 'end of the range, inclusive, ISO 8601 UTC')
    .addOption(
      new Option('--format <format>', 'artifact format').choices(EXPORT_FORMAT_CHOICES).makeOptionMandatory(),
    )
    .option('--filter-policy <name>', 'only events of this policy')
    .option('--policy <name>', 'same as --filter-policy')
    .option('--filter-team <name>', 'only events of this team')
    .option('--team <name>', 'same as --filter-team')
    .option('--title <text>', 'a title for the evidence package (shown on the PDF cover)')
    .addOption(
      new Option('--page-size <size>', 'paper size of the PDF report (--format pdf; default a4)').choices(
        REPORT_PAGE_SIZES,
      ),
    )
    .option(
      '--s3-bucket <bucket>',
      "also deliver the artifact and its manifest to this S3 bucket (one on the deployment's allow-list)",
    )
    .option('--s3-prefix <prefix>', 'key prefix in the bucket: empty or ending in / (e.g. keeptrusts/2026/q2/)')
    .option('--s3-region <region>', "the bucket's region (e.g. us-east-1)")
    .option('--wait', 'wait until the job completes or fails, then print its status (exit 1 if it failed)')
    .option(
      '--idempotency-key <key>',
      'reuse a key to make re-running the same command create the job only once (default: a new key per run)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt export create --from "2026-04-16T00:00:00Z" --to "2026-04-23T23:59:59Z" --format json',
        '  ✓ Export job created',
        `  Job ID: ${id}`,
        '  Format: json',
        '  Status: queued',
        '  Range: 2026-04-16T00:00:00Z → 2026-04-23T23:59:59Z',
        '',
        '  $ kt export create --from "2026-04-01T00:00:00Z" --to "2026-04-23T23:59:59Z" --format csv \\',
        '      --filter-team "engineering" --filter-policy "content-filter" --wait',
        '',
        '  $ kt export create --from "2026-04-01T00:00:00Z" --to "2026-04-23T23:59:59Z" --format json -o json',
        '',
        '  $ kt export create --from "2026-04-01T00:00:00Z" --to "2026-04-23T23:59:59Z" --format pdf \\',
        '      --title "Q2 2026 AI Compliance Report"        (the PDF evidence report; --page-size letter for US Letter)',
        '',
        '  $ kt export create --from "2026-04-01T00:00:00Z" --to "2026-04-23T23:59:59Z" --format json \\',
        '      --s3-bucket "compliance-artifacts" --s3-prefix "keeptrusts/2026/q2/" --s3-region "us-east-1"',
        '  ✓ Export job created',
        `  Job ID: ${id}`,
        '  Format: json',
        '  Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/',
        '  Status: queued',
        '',
      ].join('\n'),
    )
    .action(async (flags: CreateFlags, command: Command) => {
      await createExport(context, globalOptions(command), flags);
    });

  exportGroup
    .command('status')
    .description('Show an export job: its status, record count, size and times')
    .requiredOption('--id <id>', 'the export id (exp_...)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        `  $ kt export status --id ${id}`,
        `  $ kt export status --id ${id} -o json`,
        '',
      ].join('\n'),
    )
    .action(async (flags: { id: string }, command: Command) => {
      await showExportStatus(context, globalOptions(command), flags);
    });

  exportGroup
    .command('download')
    .description(
      "Download a completed export's artifact. The bytes are checked against the size and " +
        'SHA-256 the API recorded before the file appears; an existing file is never ' +
        'replaced without --force.',
    )
    .requiredOption('--id <id>', 'the export id (exp_...)')
    .option('--output <path>', "file to write, or a directory (default: the export's file name, here)")
    .option('--force', 'replace the output file (and its manifest) if it exists')
    .option('--no-manifest', 'do not save the signed manifest beside the file (<file>.manifest.json)')
    .option(
      '--companion',
      "a PDF export's companion CSV (every record) instead of the report; the report's manifest lists its SHA-256",
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        `  $ kt export download --id ${id} --output compliance-report.json`,
        `  ✓ Downloaded ${id} to compliance-report.json (2.3 MB, SHA-256 verified)`,
        '  ✓ Saved manifest to compliance-report.json.manifest.json (verify both with: kt export verify --file compliance-report.json)',
        '',
        `  $ kt export download --id ${id} --output reports/ --force -o json`,
        '',
        `  $ kt export download --id ${id} --companion --output q2-records.csv`,
        "  (a PDF export's companion CSV: every record, checked against the SHA-256 its manifest signs)",
        '',
      ].join('\n'),
    )
    .action(async (flags: DownloadFlags, command: Command) => {
      // Ctrl-C stops the transfer and removes the partial file instead of leaving it behind.
      const cancel = new AbortController();
      const onInterrupt = () => cancel.abort();
      process.once('SIGINT', onInterrupt);
      try {
        await downloadExport(context, globalOptions(command), flags, cancel.signal);
      } finally {
        process.removeListener('SIGINT', onInterrupt);
      }
    });

  exportGroup
    .command('verify')
    .description(
      'Check a downloaded export against its signed manifest: the signature, the size and ' +
        "SHA-256, and (JSON, CSV, and a PDF report's companion CSV) the records digest, count and " +
        'export id recomputed from the file. With --public-key it needs no network and no token. Exit 1 if any check fails.',
    )
    .requiredOption('--file <path>', 'the downloaded artifact')
    .option('--manifest <path>', 'its manifest (default: <file>.manifest.json, where kt export download saves it)')
    .option(
      '--public-key <path>',
      "the signing key's PEM (kt keys get --id <keyId> --output key.pem); without it the key is fetched from the API",
    )
    .option(
      '--companion <path>',
      "a PDF report's companion CSV (default: the name its manifest gives, beside --file); its records are checked",
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt export verify --file compliance-report.json --public-key key.pem',
        `  Verifying ${id} (json, 1,247 records)`,
        '  ✓ Manifest: keeptrusts.export-manifest/1, every field present',
        '  ✓ Signature: valid, signed by kt-local-3f9a0c1d2e4b5a69 (ECDSA_P256_SHA256)',
        '  ✓ Size: 2,300,000 bytes',
        '  ✓ SHA-256: 9c1e…',
        '  ✓ Format: the file parses as json',
        '  ✓ Records digest: 4a5b…',
        '  ✓ Records: 1,247',
        `  ✓ Export id: ${id}`,
        '  ✓ Evidence verified',
        '',
        '  $ kt export verify --file pii-audit.csv -o json',
        '',
        '  $ kt export verify --file q2-report.pdf --companion q2-records.csv',
        "  (a PDF report: the report's bytes, then its companion CSV's size, SHA-256, records digest and count)",
        '',
        'Without kt: docs/verifying-evidence.md does the same checks with openssl and sha256sum.',
        '',
      ].join('\n'),
    )
    .action(async (flags: VerifyEvidenceFlags, command: Command) => {
      await verifyEvidence(context, globalOptions(command), flags);
    });

  exportGroup
    .command('list')
    .description('List export jobs, newest first')
    .addOption(
      new Option('--limit <n>', `jobs per page, 1 to ${MAX_LIST_LIMIT}`)
        .default(DEFAULT_LIST_LIMIT)
        .argParser(parseLimit),
    )
    .option('--cursor <cursor>', 'continue a previous listing (kt prints the value when there is more)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt export list --limit 10',
        '  $ kt export list -o json | jq ".exports[].id"',
        '',
      ].join('\n'),
    )
    .action(async (flags: { limit: number; cursor?: string }, command: Command) => {
      await listExports(context, globalOptions(command), flags);
    });

  exportGroup
    .command('redeliver')
    .description(
      "Deliver an export to its S3 bucket again after its delivery failed (the internal artifact " +
        'is kept). Waits for the outcome; exit 1 if it fails again.',
    )
    .requiredOption('--id <id>', 'the export id (exp_...)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        `  $ kt export redeliver --id ${id}`,
        `  ✓ Export ${id} delivered`,
        `  Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/${id}.json (delivered)`,
        `  Manifest: s3://compliance-artifacts/keeptrusts/2026/q2/${id}.json.manifest.json`,
        '',
      ].join('\n'),
    )
    .action(async (flags: { id: string }, command: Command) => {
      await redeliverExport(context, globalOptions(command), flags);
    });

  exportGroup
    .command('cancel')
    .description(
      'Stop a queued or running export. It ends cancelled with no artifact, and frees its place among ' +
        'the exports this token may have queued or running at once. Exit 1 if it has already finished.',
    )
    .requiredOption('--id <id>', 'the export id (exp_...)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        `  $ kt export cancel --id ${id}`,
        `  ✓ Export ${id} cancelled`,
        '  No artifact was published; the job and its audit entries remain.',
        '',
        `  $ kt export cancel --id ${id} -o json`,
        '',
      ].join('\n'),
    )
    .action(async (flags: { id: string }, command: Command) => {
      await cancelExport(context, globalOptions(command), flags);
    });

  exportGroup
    .command('delete')
    .description(
      "Delete an export's artifact. The job and its audit trail entries stay, as evidence that it existed.",
    )
    .requiredOption('--id <id>', 'the export id (exp_...)')
    .addHelpText(
      'after',
      ['', 'Example:', `  $ kt export delete --id ${id}`, `  ✓ Export ${id} deleted`, ''].join('\n'),
    )
    .action(async (flags: { id: string }, command: Command) => {
      await deleteExport(context, globalOptions(command), flags);
    });

  registerScheduleCommands(exportGroup, context);
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError(`Must be a whole number from 1 to ${MAX_LIST_LIMIT}.`);
  }
  return n;
}
