import { stat } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MAX_BATCH_EVENTS } from '../../functions/core/events/decision-event.ts';
import { apiClientFor, type CliContext, globalOptions } from '../context.ts';
import { CommandFailedError, UsageError } from '../errors.ts';
import { detectEventFileFormat, describePosition, fileError } from '../event-file.ts';
import { ingestVia } from '../event-import/ingest.ts';
import { eventsToUpload, uploadEvents } from '../event-import/upload.ts';
import { formatInvalidEvent, type ValidationReport, validateEventFile } from '../event-import/validation.ts';
import { formatCount, formatQuantity, isHumanOutput, printJson, printSuccess } from '../output.ts';
import { createProgress } from '../progress.ts';

/** `kt events ...`: decision events. */
export function registerEventsCommands(program: Command, context: CliContext): void {
  const events = program
    .command('events')
    .description('Work with gateway decision events')
    .addHelpText('after', '\nExample:\n  $ kt events import --file events.jsonl\n');

  events
    .command('import')
    .description(
      'Validate a file of decision events, then upload it to the API in batches.\n' +
        'The whole file is checked first: if any event is invalid, nothing is uploaded.\n' +
        'Importing the same events again is safe (the API stores each event id once).\n' +
        'An event whose id is stored with other content or at another time is a conflict: it is\n' +
        'not stored, the attempt is recorded in the audit trail, and the command exits 1.',
    )
    .requiredOption('-f, --file <path>', 'JSON Lines (one event per line) or a JSON array of events')
    .addOption(
      new Option('--batch-size <n>', `events per request, 1 to ${MAX_BATCH_EVENTS}`)
        .default(MAX_BATCH_EVENTS)
        .argParser(parseBatchSize),
    )
    .option('--dry-run', 'only validate the file; upload nothing (needs no token)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt events import --file events.jsonl',
        '  ✓ Imported 12,500 events (12,500 new, 0 already stored)',
        '',
        '  $ kt events import --file events.json --batch-size 200 -o json',
        '  {"imported":12500,"new":0,"alreadyStored":12500,"conflicts":[],"file":"events.json"}',
        '',
        '  $ kt events import --file events.jsonl --dry-run',
        '',
        'Invalid events are reported as "line N" (JSON Lines) or "item N" (JSON array, counted from 1).',
        '',
      ].join('\n'),
    )
    .action(async (options: ImportFlags, command: Command) => {
      await importEvents(context, options, command);
    });
}

interface ImportFlags {
  readonly file: string;
  readonly batchSize: number;
  readonly dryRun?: boolean;
}

function parseBatchSize(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_BATCH_EVENTS) {
    throw new InvalidArgumentError(`Must be a whole number from 1 to ${MAX_BATCH_EVENTS}.`);
  }
  return n;
}

async function importEvents(context: CliContext, flags: ImportFlags, command: Command): Promise<void> {
  const { io } = context;
  const globals = globalOptions(command);
  const human = isHumanOutput(globals.outputFormat);
  const file = flags.file;
  if (file.trim() === '') throw new UsageError('--file must name a file of decision events');

  // Cheap checks first: the file is readable and not empty, then (unless dry-run) a token exists.
  const format = await detectEventFileFormat(file);
  const ingest = flags.dryRun ? undefined : ingestVia(apiClientFor(context, globals));
  const progress = createProgress(io, globals.outputFormat);

  let report: ValidationReport;
  progress.start('Validating', await fileSize(file), 'bytes');
  try {
    report = await validateEventFile(file, { format, onBytes: (n) => progress.increment(n) });
  } finally {
    progress.stop();
  }

  if (report.invalid > 0) {
    if (human) {
      for (const problem of report.problems) io.stderr.write(`${formatInvalidEvent(format, problem)}\n`);
      const unlisted = report.invalid - report.problems.length;
      if (unlisted > 0) io.stderr.write(`... and ${formatQuantity(unlisted, 'more invalid event')}\n`);
    } else {
      printJson(io, {
        imported: 0,
        file,
        events: report.total,
        invalid: report.invalid,
        problems: report.problems.map((p) => ({
          [format === 'array' ? 'item' : 'line']: p.position,
          errors: p.issues,
        })),
      });
    }
    throw new CommandFailedError(
      `${formatCount(report.invalid)} of ${formatQuantity(report.total, 'event')} in ${file} ${report.invalid === 1 ? 'is' : 'are'} invalid; nothing was uploaded`,
    );
  }

  if (ingest === undefined) {
    if (human)
      printSuccess(io, `Validated ${formatQuantity(report.distinct, 'event')} in ${file} (nothing uploaded)`);
    else printJson(io, { validated: report.distinct, file, dryRun: true });
    return;
  }

  progress.start('Uploading', report.distinct, 'events');
  let result: Awaited<ReturnType<typeof uploadEvents>>;
  try {
    result = await uploadEvents(eventsToUpload(file, report), ingest, {
      format,
      batchSize: flags.batchSize,
      concurrency: 2,
      maxResends: MAX_RESENDS,
      onStored: (n) => progress.increment(n),
    });
  } finally {
    progress.stop();
  }

  const first = result.notStored[0];
  if (first !== undefined) {
    throw new CommandFailedError(
      `${formatCount(result.notStored.length)} of ${formatQuantity(report.distinct, 'event')} ${result.notStored.length === 1 ? 'was' : 'were'} not stored after ${MAX_RESENDS} retries ` +
        `(first: ${first.id} at ${describePosition(format, first.position)}: ${first.reason}); ` +
        `${formatCount(result.imported)} were stored. Importing the file again is safe.`,
    );
  }

  const stored = `${formatCount(result.new)} new, ${formatCount(result.alreadyStored)} already stored`;
  if (human) {
    for (const c of result.conflicts) {
      io.stderr.write(`${describePosition(format, c.position)}: ${c.id}: ${c.reason}\n`);
    }
    if (result.conflicts.length === 0) {
      const skipped =
        report.duplicates > 0
          ? `, ${formatCount(report.duplicates)} exact repeat${report.duplicates === 1 ? '' : 's'} in the file skipped`
          : '';
      printSuccess(io, `Imported ${formatQuantity(result.imported, 'event')} (${stored}${skipped})`);
    }
  } else {
    printJson(io, {
      imported: result.imported,
      new: result.new,
      alreadyStored: result.alreadyStored,
      conflicts: result.conflicts.map((c) => ({
        [format === 'array' ? 'item' : 'line']: c.position,
        id: c.id,
        conflict: c.conflict,
        reason: c.reason,
      })),
      file,
      ...(report.duplicates > 0 && { duplicatesSkipped: report.duplicates }),
    });
  }
  if (result.conflicts.length > 0) {
    const n = result.conflicts.length;
    const named = result.conflicts
      .slice(0, 5)
      .map((c) => `${describePosition(format, c.position)} ${c.id}`)
      .join(', ');
    throw new CommandFailedError(
      `${formatCount(n)} of ${formatQuantity(report.distinct, 'event')} ${n === 1 ? 'conflicts' : 'conflict'} with ${n === 1 ? 'a stored event' : 'stored events'} ` +
        `and ${n === 1 ? 'was' : 'were'} not stored (${named}${n > 5 ? ', …' : ''}); stored events never change. ` +
        `${formatCount(result.imported)} stored (${stored}).`,
    );
  }
}

const MAX_RESENDS = 3;

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    throw fileError(path, error);
  }
}
