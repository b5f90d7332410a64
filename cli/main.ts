import { Command, Option } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { AUTH_MODES, DEFAULT_API_URL } from './api/config.ts';
import { registerAuditCommands } from './commands/audit.ts';
import { registerEventsCommands } from './commands/events.ts';
import { registerExportCommands } from './commands/export.ts';
import { registerKeysCommands } from './commands/keys.ts';
import { registerTokenCommands } from './commands/token.ts';
import type { CliContext } from './context.ts';
import { errorLine, exitCodeFor, isCommanderError, isCommanderOutputOnly, redact } from './errors.ts';
import { type CliIo, OUTPUT_FORMATS, processIo } from './output.ts';

/**
 * The `kt` program. Command groups live one per file under cli/commands/ and are registered
 * here; errors become exit codes in one place (cli/errors.ts) and are printed in one place
 * (`main` below). cli/bin/kt.js is the executable that loads this module.
 */

/** Add a group here: `(program, context) => void`, one file per group under cli/commands/. */
const COMMAND_GROUPS: readonly ((program: Command, context: CliContext) => void)[] = [
  registerEventsCommands,
  registerExportCommands,
  registerKeysCommands,
  registerAuditCommands,
  registerTokenCommands,
];

export const VERSION: string = packageJson.version;

export function buildProgram(context: CliContext): Command {
  const { io } = context;
  const program = new Command('kt')
    .description('Keeptrusts Export: compliance evidence from LLM-gateway decision events')
    .version(context.version, '-V, --version', 'print the kt version')
    .addOption(
      new Option(
        '--api-url <url>',
        `Keeptrusts API base URL (env KEEPTRUSTS_API_URL, default ${DEFAULT_API_URL})`,
      ),
    )
    .addOption(
      new Option(
        '--token <token>',
        'API token (env KEEPTRUSTS_API_TOKEN; prefer the env var, flags show in process lists)',
      ),
    )
    .addOption(
      new Option(
        '--auth <mode>',
        'bearer (an API token) or sigv4 (AWS IAM: the standard AWS credential chain and AWS_REGION) (env KEEPTRUSTS_AUTH, default bearer)',
      ).choices(AUTH_MODES),
    )
    .addOption(
      new Option('-o, --output-format <format>', 'human text, or json for scripts')
        .choices(OUTPUT_FORMATS)
        .default('human'),
    )
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage errors are printed by main() as one line; commander's own rendering is dropped.
      outputError: () => undefined,
    })
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ export KEEPTRUSTS_API_URL="http://localhost:8080"',
        '  $ export KEEPTRUSTS_API_TOKEN="your-admin-token"',
        '  $ kt events import --file events.jsonl',
        '  $ kt events import --file events.json -o json',
        '',
        'Exit codes: 0 success, 1 failure, 2 usage error, 4 authentication.',
        'Set KT_DEBUG=1 to print stack traces with errors.',
        '',
      ].join('\n'),
    );

  for (const register of COMMAND_GROUPS) register(program, context);
  return program;
}

/** Runs `kt` with process-style argv (`[node, script, ...args]`); returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const context: CliContext = { io, version: VERSION, secrets: collectSecrets(argv, io) };
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    const code = exitCodeFor(error);
    if (isCommanderOutputOnly(error)) return code;
    let line = errorLine(error, context.secrets);
    if (isCommanderError(error)) line += ` (see '${commandPath(program, argv.slice(2))} --help')`;
    io.stderr.write(`${line}\n`);
    if (isDebug(io.env) && error instanceof Error && error.stack) {
      io.stderr.write(`${redact(fullStack(error), context.secrets)}\n`);
    }
    return code;
  }
}

/**
 * The token from the environment and from `--token X` / `--token=X`, and the AWS secret key and
 * session token sigv4 signs with, so no message can show them.
 */
function collectSecrets(argv: readonly string[], io: CliIo): Set<string> {
  const secrets = new Set<string>();
  for (const name of ['KEEPTRUSTS_API_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const value = io.env[name]?.trim();
    if (value) secrets.add(value);
  }
  argv.forEach((arg, i) => {
    const value = arg === '--token' ? argv[i + 1] : arg.startsWith('--token=') ? arg.slice(8) : undefined;
    if (value?.trim()) secrets.add(value.trim());
  });
  return secrets;
}

/** `kt events import` for argv `events import --fil x`: the deepest command the words name. */
function commandPath(program: Command, args: readonly string[]): string {
  const names = [program.name()];
  let current = program;
  for (const arg of args) {
    if (arg.startsWith('-')) break;
    const next = current.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (next === undefined) break;
    names.push(next.name());
    current = next;
  }
  return names.join(' ');
}

function isDebug(env: CliIo['env']): boolean {
  const value = env.KT_DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

function fullStack(error: Error): string {
  let text = error.stack ?? String(error);
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth += 1) {
    text += `\nCaused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}
