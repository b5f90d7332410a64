import { ApiError, AuthError, exitCodeFor } from '../../../../cli/errors.ts';
import { errorForResponse, parseProblem, renderProblem } from '../../../../cli/api/problems.ts';

describe('problem+json rendering', () => {
  const problem = {
    type: 'https://keeptrusts.dev/problems/validation',
    title: 'Invalid request',
    status: 400,
    detail: '3 of 500 events are invalid; nothing was stored.',
    errors: [
      {
        field: 'events[3].timestamp',
        rule: 'must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z',
      },
      { field: 'events[7].tokens', rule: 'is required' },
      { field: 'events[9]', rule: 'must be a JSON object' },
    ],
  };

  it('names the first offending field and counts the rest', () => {
    expect(renderProblem(parseProblem(problem), 400)).toBe(
      'events[3].timestamp must be an ISO 8601 UTC timestamp such as 2026-04-20T09:15:32Z (and 2 more problems)',
    );
    expect(renderProblem(parseProblem({ ...problem, errors: problem.errors.slice(0, 2) }), 400)).toMatch(
      / \(and 1 more problem\)$/,
    );
    expect(renderProblem(parseProblem({ ...problem, errors: problem.errors.slice(0, 1) }), 400)).not.toMatch(
      /more/,
    );
  });

  it('falls back to detail, then title, then the status', () => {
    expect(
      renderProblem(parseProblem({ title: 'Not Found', detail: 'export exp_1 was not found' }), 404),
    ).toBe('export exp_1 was not found');
    expect(renderProblem(parseProblem({ title: 'Conflict' }), 409)).toBe('Conflict (409)');
    expect(renderProblem(parseProblem('<html>bad gateway</html>'), 502)).toBe(
      'the API answered 502 Bad Gateway',
    );
    expect(renderProblem(parseProblem(undefined), 418)).toBe('the API answered 418');
  });

  it('keeps a hostile server message on one line, without control characters, and bounded', () => {
    const line = renderProblem(
      parseProblem({ detail: `line one\n\u001b[2Jline two ${'x'.repeat(1000)}` }),
      400,
    );
    expect(line).not.toContain('\n');
    expect(line).not.toContain('\u001b');
    expect(line.startsWith('line one [2Jline two')).toBe(true);
    expect(line.length).toBeLessThanOrEqual(400);
  });

  it('ignores malformed entries in errors[]', () => {
    expect(
      parseProblem({ errors: [null, 'x', { field: 3, rule: 'is odd' }, { field: 'a' }] }).errors,
    ).toEqual([{ field: '', rule: 'is odd' }]);
  });

  it('turns 401 and 403 into AuthError (exit 4) and the rest into ApiError (exit 1)', () => {
    const unauthorized = errorForResponse(401, {
      title: 'Unauthorized',
      status: 401,
      detail: 'The API token is missing, malformed, unknown or revoked.',
    });
    expect(unauthorized).toBeInstanceOf(AuthError);
    expect(unauthorized.message).toBe(
      'the API refused the token (401): The API token is missing, malformed, unknown or revoked. Check KEEPTRUSTS_API_TOKEN.',
    );
    const forbidden = errorForResponse(403, { detail: 'The token lacks the events:write scope' });
    expect(forbidden).toBeInstanceOf(AuthError);
    expect(forbidden.message).toMatch(
      /^the API refused the token \(403\): The token lacks the events:write scope\. /,
    );
    expect(exitCodeFor(forbidden)).toBe(4);

    const invalid = errorForResponse(400, problem);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(exitCodeFor(invalid)).toBe(1);
    expect((invalid as ApiError).errors).toHaveLength(3);
    expect((invalid as ApiError).title).toBe('Invalid request');
  });
});
