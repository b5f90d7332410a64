import {
  ApiError,
  AuthError,
  CommandFailedError,
  errorLine,
  ExitCode,
  exitCodeFor,
  isCommanderOutputOnly,
  NetworkError,
  UsageError,
} from '../../../cli/errors.ts';

/** What commander throws under exitOverride (its class is ESM-only, so built by shape here). */
function commanderError(code: string, message: string, exitCode = 1): Error {
  return Object.assign(new Error(message), { code, exitCode });
}

describe('exitCodeFor', () => {
  it('maps each CLI error class to its exit code', () => {
    expect(exitCodeFor(new UsageError('bad flag'))).toBe(2);
    expect(exitCodeFor(new AuthError('no token'))).toBe(4);
    expect(exitCodeFor(new ApiError('bad', 400, { title: 'Bad Request' }))).toBe(1);
    expect(exitCodeFor(new NetworkError('refused', 'http://localhost:8080'))).toBe(1);
    expect(exitCodeFor(new CommandFailedError('not stored'))).toBe(1);
    expect(ExitCode).toEqual({ Success: 0, Failure: 1, Usage: 2, Auth: 4 });
  });

  it('maps commander usage errors to 2 and help/version to 0', () => {
    expect(
      exitCodeFor(
        commanderError(
          'commander.missingMandatoryOptionValue',
          "error: required option '--file <path>' not specified",
        ),
      ),
    ).toBe(2);
    expect(exitCodeFor(commanderError('commander.unknownOption', "error: unknown option '--fil'"))).toBe(2);
    expect(exitCodeFor(commanderError('commander.invalidArgument', 'error: bad'))).toBe(2);
    expect(exitCodeFor(commanderError('commander.help', '(outputHelp)'))).toBe(2);
    expect(exitCodeFor(commanderError('commander.helpDisplayed', '(outputHelp)', 0))).toBe(0);
    expect(exitCodeFor(commanderError('commander.version', '0.1.0', 0))).toBe(0);
    expect(isCommanderOutputOnly(commanderError('commander.helpDisplayed', '', 0))).toBe(true);
    expect(isCommanderOutputOnly(commanderError('commander.unknownOption', 'x'))).toBe(false);
  });

  it('treats anything else (a bug, a plain Error, a thrown string) as failure 1', () => {
    expect(exitCodeFor(new TypeError('x is undefined'))).toBe(1);
    expect(exitCodeFor('boom')).toBe(1);
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'ENOENT', exitCode: 7 }))).toBe(1);
  });
});

describe('errorLine', () => {
  it('is one line starting with "error: " even for multi-line messages', () => {
    const line = errorLine(
      commanderError('commander.unknownCommand', "error: unknown command 'impor'\n(Did you mean import?)"),
    );
    expect(line).toBe("error: unknown command 'impor' (Did you mean import?)");
    expect(errorLine(new Error('first\n\tsecond\r\nthird'))).toBe('error: first second third');
  });

  it('removes terminal control characters a server could send', () => {
    expect(errorLine(new Error('bad \u001b[31mred\u001b[0m thing'))).toBe('error: bad [31mred[0m thing');
  });

  it('masks secrets wherever they appear', () => {
    const line = errorLine(new Error('header "Bearer tok_abc123" is invalid; tok_abc123 again'), [
      'tok_abc123',
      '',
    ]);
    expect(line).not.toContain('tok_abc123');
    expect(line).toBe('error: header "Bearer ***" is invalid; *** again');
  });
});
