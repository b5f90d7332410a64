import { ApiError, errorLine, exitCodeFor } from '../../../cli/errors.ts';
import { deleteExport } from '../../../cli/export/job-actions.ts';
import { ArtifactRetainedError } from '../../../functions/core/export/artifact-retention.ts';
import { problemFor } from '../../../functions/handlers/http/problem.ts';
import { exportContext, type FakeApi, ID, problem, startFakeApi } from './export-fixtures.ts';
import { rejection } from './helpers.ts';

/** `kt export delete` refused under retention: the API's own problem body, shown as one line, exit 1. */

let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(() => api.close());
beforeEach(() => api.reset());

it.each([
  ['COMPLIANCE', 'by anyone'],
  ['GOVERNANCE', 'only an account administrator with s3:BypassGovernanceRetention'],
] as const)('prints the %s retention refusal as one line and exits 1', async (mode, says) => {
  const refusal = new ArtifactRetainedError(ID, mode, new Date('2033-04-21T14:30:12.345Z'));
  const body = problemFor(refusal);
  api.route(`DELETE /v1/exports/${ID}`, (_req, res) => problem(res, 409, { ...body }));
  for (const output of ['human', 'json'] as const) {
    const { context, globals, io } = exportContext(api.url, output);
    const error = await rejection(deleteExport(context, globals, { id: ID }));
    expect(error).toBeInstanceOf(ApiError);
    expect(exitCodeFor(error)).toBe(1);
    expect(errorLine(error)).toBe(`error: ${refusal.message}`);
    expect(errorLine(error)).toContain('until 2033-04-21T14:30:12.345Z and cannot be deleted before then');
    expect(errorLine(error)).toContain(says);
    expect(io.out()).toBe('');
  }
});
