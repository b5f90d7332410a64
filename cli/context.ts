import type { Command } from 'commander';
import { type ApiClient, type ApiClientOptions, createApiClient, retryWaitLine } from './api/client.ts';
import { type ApiConfig, resolveApiConfig } from './api/config.ts';
import type { CliIo, OutputFormat } from './output.ts';

/**
 * What every command gets: its streams and environment, and the secrets (the token) that the
 * error printer must mask. Commands build their API client through `apiClientFor`.
 *
 * Only a type is imported from commander, so unit tests (CommonJS) can load this module.
 */
export interface CliContext {
  readonly io: CliIo;
  readonly version: string;
  /** Values never to print: the error printer masks them. */
  readonly secrets: Set<string>;
  /** Overrides for the HTTP client (tests inject fetch, sleep). */
  readonly http?: Omit<ApiClientOptions, 'baseUrl' | 'signer'>;
}

/** The program-wide flags, available to every command (before or after its name). */
export interface GlobalOptions {
  readonly apiUrl?: string;
  readonly token?: string;
  readonly auth?: string;
  readonly outputFormat: OutputFormat;
}

/** The global flags as seen from a (sub)command's action. */
export function globalOptions(command: Command): GlobalOptions {
  const all = command.optsWithGlobals<Partial<GlobalOptions>>();
  return {
    ...(all.apiUrl !== undefined && { apiUrl: all.apiUrl }),
    ...(all.token !== undefined && { token: all.token }),
    ...(all.auth !== undefined && { auth: all.auth }),
    outputFormat: all.outputFormat === 'json' ? 'json' : 'human',
  };
}

/** Resolves flags over environment; the token is registered as a secret before anything can fail. */
export function apiConfigFor(context: CliContext, options: GlobalOptions): ApiConfig {
  const flagToken = options.token?.trim();
  if (flagToken) context.secrets.add(flagToken);
  const envToken = context.io.env.KEEPTRUSTS_API_TOKEN?.trim();
  if (envToken) context.secrets.add(envToken);
  return resolveApiConfig({ apiUrl: options.apiUrl, token: options.token, auth: options.auth }, context.io.env);
}

/** An API client for the command's flags; throws AuthError (exit 4) when there is no token (Bearer). */
export function apiClientFor(context: CliContext, options: GlobalOptions): ApiClient {
  return createApiClient(apiConfigFor(context, options), {
    userAgent: `kt/${context.version}`,
    // One line on stderr per wait a 429 asks for, so kt never waits silently.
    onRetryWait: (wait) => context.io.stderr.write(`${retryWaitLine(wait)}\n`),
    ...context.http,
  });
}
