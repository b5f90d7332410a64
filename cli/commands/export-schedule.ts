import { type Command, Option } from 'commander';
import { type CliContext, globalOptions } from '../context.ts';
import { UsageError } from '../errors.ts';
import {
  createSchedule,
  deleteSchedule,
  INTERVALS,
  listSchedules,
  runSchedule,
  type ScheduleFlags,
  setScheduleState,
  showSchedule,
} from '../export/schedule-actions.ts';
import { EXPORT_FORMAT_CHOICES } from '../export/job-view.ts';

/**
 * `kt export schedule`: both a command (with flags, it creates a schedule, as the tutorial's
 * Step 9 writes it) and a group (`list`, `show`, `delete`, `pause`, `resume`, `run`). commander
 * parses an option of `schedule` wherever it appears, so in `kt export schedule show --name N` the
 * `--name` is parsed by `schedule`, not by `show`: the subcommands read it with the parent's
 * options (`optsWithGlobals`), and check it is there themselves. The work is in
 * cli/export/schedule-actions.ts.
 */
export function registerScheduleCommands(exportGroup: Command, context: CliContext): void {
  const schedule = exportGroup
    .command('schedule')
    .description(
      'Schedule a recurring export: each run exports the window before its scheduled time, ' +
        'exactly once, and delivers it to S3 if asked. With a subcommand, manage schedules.',
    )
    .option('--name <name>', 'the schedule name: letters, digits, _ . - (default with --interval: <interval>-<format>)')
    .option('--cron <expression>', 'unix cron, 5 fields (e.g. "0 2 * * MON"), or an EventBridge cron(...) expression')
    .addOption(
      new Option('--interval <interval>', 'short form of --cron: at 02:00 daily, weekly (Mondays) or monthly (day 1)').choices(
        Object.keys(INTERVALS),
      ),
    )
    .option('--window <window>', 'how much each run exports, ending at its scheduled time: Nh, Nd or Nw (default with --interval daily 1d, weekly 7d)')
    .addOption(new Option('--format <format>', 'artifact format').choices(EXPORT_FORMAT_CHOICES))
    .option('--timezone <zone>', 'IANA time zone the cron expression is read in (default UTC)')
    .option('--filter-policy <name>', 'only events of this policy')
    .option('--policy <name>', 'same as --filter-policy')
    .option('--filter-team <name>', 'only events of this team')
    .option('--team <name>', 'same as --filter-team')
    .option('--title <text>', 'a title for every run\'s evidence package')
    .option('--s3-bucket <bucket>', 'deliver each run to this allow-listed S3 bucket')
    .option('--s3-prefix <prefix>', 'key prefix in the bucket, empty or ending in /')
    .option('--s3-region <region>', "the bucket's region")
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ kt export schedule --name "weekly-compliance" --cron "0 2 * * MON" --window "7d" --format json \\',
        '      --s3-bucket "compliance-artifacts" --s3-prefix "keeptrusts/weekly/"',
        '  ✓ Recurring export scheduled',
        '  Name: weekly-compliance',
        '  Schedule: Every Monday at 02:00 UTC',
        '  Window: 7 days',
        '  Delivery: s3://compliance-artifacts/keeptrusts/weekly/',
        '',
        '  $ kt export schedule --interval weekly --format csv --s3-bucket compliance-artifacts',
        '  $ kt export schedule list',
        '  $ kt export schedule run --name weekly-compliance --at 2026-04-20T02:00:00Z',
        '',
        'A run for scheduled time T exports [T - window, T): consecutive runs neither overlap nor',
        'leave a gap. Running the same T again (a retry, a backfill) finds the same export job.',
        '',
      ].join('\n'),
    )
    .action(async (flags: ScheduleFlags, command: Command) => {
      await createSchedule(context, globalOptions(command), flags);
    });

  schedule
    .command('list')
    .description('List schedules: when each runs, its window, format and delivery, its next run and its last')
    .action(async (_flags: unknown, command: Command) => {
      await listSchedules(context, globalOptions(command));
    });

  schedule
    .command('show')
    .description('Show one schedule')
    .option('--name <name>', 'the schedule name (required)')
    .action(async (_flags: unknown, command: Command) => {
      await showSchedule(context, globalOptions(command), nameOf(command));
    });

  schedule
    .command('delete')
    .description('Delete a schedule; the exports it made stay')
    .option('--name <name>', 'the schedule name (required)')
    .action(async (_flags: unknown, command: Command) => {
      await deleteSchedule(context, globalOptions(command), nameOf(command));
    });

  schedule
    .command('pause')
    .description('Stop a schedule from running until it is resumed')
    .option('--name <name>', 'the schedule name (required)')
    .action(async (_flags: unknown, command: Command) => {
      await setScheduleState(context, globalOptions(command), nameOf(command), 'paused');
    });

  schedule
    .command('resume')
    .description('Run a paused schedule again from its next scheduled time (missed runs are not made)')
    .option('--name <name>', 'the schedule name (required)')
    .action(async (_flags: unknown, command: Command) => {
      await setScheduleState(context, globalOptions(command), nameOf(command), 'enabled');
    });

  schedule
    .command('run')
    .description(
      'Run a schedule now, or for a past scheduled time (--at) to backfill a missed run: exports the ' +
        'window ending then. Running the same time again prints the same job.',
    )
    .option('--name <name>', 'the schedule name (required)')
    .option('--at <instant>', 'the scheduled time T, whole seconds, ISO 8601 UTC (default: now)')
    .addHelpText(
      'after',
      ['', 'Example:', '  $ kt export schedule run --name weekly-compliance --at 2026-04-20T02:00:00Z', ''].join('\n'),
    )
    .action(async (flags: { at?: string }, command: Command) => {
      await runSchedule(context, globalOptions(command), { ...nameOf(command), ...(flags.at !== undefined && { at: flags.at }) });
    });
}

/** `--name` of a subcommand, wherever on the command line it was given. */
function nameOf(command: Command): { readonly name: string } {
  const { name } = command.optsWithGlobals<{ name?: string }>();
  if (name === undefined) {
    throw new UsageError(`required option '--name <name>' not specified (see 'kt export schedule ${command.name()} --help')`);
  }
  return { name };
}
