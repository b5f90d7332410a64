/**
 * CLI errors and the one mapping from an error to a process exit code and a one-line message.
 * Every command throws one of these; cli/main.ts catches, prints `error: ...` on stderr and exits.
 *
 * This module must not import commander (ESM-only, unloadable by the CommonJS unit tests):
 * commander's own errors are recognised by shape.
 */

export const ExitCode = {
  Success: 0,
  Failure: 1,
  Usage: 2,
  Auth: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** One offending field of an RFC 9457 problem, as the API sends it. */
export interface ProblemFieldError {
  readonly field: string;
  readonly rule: string;
}

/** An RFC 9457 problem details body (`application/problem+json`). */
export interface ProblemDetails {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: readonly ProblemFieldError[];
  /** A 429's seconds until the same request may succeed (also its Retry-After header). */
  readonly retryAfter?: number;
}

export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line itself is wrong (missing or malformed flag): exit 2. */
export class UsageError extends CliError {
  readonly exitCode = ExitCode.Usage;
}

/** No token, or the API refused it (401/403): exit 4. */
export class AuthError extends CliError {
  readonly exitCode = ExitCode.Auth;

  constructor(
    message: string,
    readonly status?: number,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The API answered with an error (problem+json or otherwise): exit 1. */
export class ApiError extends CliError {
  readonly exitCode = ExitCode.Failure;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly type: string | undefined;
  readonly errors: readonly ProblemFieldError[];

  constructor(
    message: string,
    readonly status: number,
    readonly problem: ProblemDetails = {},
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type;
    this.errors = problem.errors ?? [];
  }
}

/** The API could not be reached (connection refused, DNS, timeout): exit 1. */
export class NetworkError extends CliError {
  readonly exitCode = ExitCode.Failure;

  constructor(
    message: string,
    readonly url: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command ran but did not succeed (bad input file, events not stored, ...): exit 1. */
export class CommandFailedError extends CliError {
  readonly exitCode = ExitCode.Failure;
}

/** The shape of commander's CommanderError, recognised without importing commander. */
interface CommanderErrorLike {
  readonly code: string;
  readonly exitCode: number;
  readonly message: string;
}

export function isCommanderError(error: unknown): error is CommanderErrorLike {
  if (!(error instanceof Error)) return false;
  const { code, exitCode } = error as { code?: unknown; exitCode?: unknown };
  return typeof code === 'string' && code.startsWith('commander.') && typeof exitCode === 'number';
}

/** Commander "errors" that are really a successful `--help` / `--version`. */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Whether commander already wrote everything the user needs (help, version, or the help it
 * shows when a command group is run without a subcommand), so no `error:` line follows.
 */
export function isCommanderOutputOnly(error: unknown): boolean {
  return isCommanderError(error) && (COMMANDER_SUCCESS.has(error.code) || error.code === 'commander.help');
}

/** The exit code for anything a command may throw. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (isCommanderError(error)) return COMMANDER_SUCCESS.has(error.code) ? ExitCode.Success : ExitCode.Usage;
  return ExitCode.Failure;
}

/**
 * The single stderr line for an error: `error: <message>`, whitespace collapsed, control
 * characters removed, and any of `secrets` (the API token) masked.
 */
export function errorLine(error: unknown, secrets: Iterable<string> = []): string {
  let message = error instanceof Error ? error.message : String(error);
  message = oneLine(message).replace(/^error:\s*/i, '');
  return `error: ${redact(message, secrets) || 'unknown error'}`;
}

/** Collapses newlines and tabs into single spaces and drops other control characters. */
export function oneLine(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Replaces every occurrence of each secret (ignoring empty ones) with `***`. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  return out;
}
