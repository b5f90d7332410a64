import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ArtifactRetention } from '../../functions/core/export/artifact-retention.ts';
import type { ExportJobView } from '../../functions/core/export/export-job.ts';
import type { ProblemDetails } from '../../functions/handlers/http/problem.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { validEvent } from '../support/decision-events.ts';
import { NO_RETRY_WAIT } from '../support/local-stack-config.ts';
import { callApi } from '../support/call-api.ts';

/**
 * DELETE /v1/exports/{id} under the artifact retention setting, over real HTTP through the local
 * stack. s3rver has no Object Lock, so the API's rule is all that keeps the artifact here, as it
 * is on AWS (where S3 would accept the delete marker).
 */

const EVENTS = Array.from({ length: 12 }, (_, n) =>
  validEvent({
    id: `evt_ret${String(n).padStart(4, '0')}`,
    timestamp: `2026-04-20T09:${String(10 + n)}:00Z`,
  }),
);

let stack: LocalStack | undefined;
let dataDir: string;

async function start(artifactRetention?: ArtifactRetention): Promise<LocalStack> {
  await stack?.stop();
  stack = await startLocalStack(
    {
      apiPort: 0,
      dynamodbPort: 0,
      s3Port: 0,
      dataDir,
      demoEvents: 0,
      logRequests: false,
      ...(artifactRetention === undefined ? {} : { artifactRetention }),
    },
    { retryIntervalOverrides: NO_RETRY_WAIT },
  );
  return stack;
}

const call = (method: string, route: string, body?: unknown) => callApi(stack!, method, route, { body });

async function completedExport(): Promise<ExportJobView> {
  const created = await call('POST', '/v1/exports', {
    from: '2026-04-20T00:00:00Z',
    to: '2026-04-20T23:59:59Z',
    format: 'csv',
  });
  expect(created.status).toBe(202);
  const { id } = (await created.json()) as ExportJobView;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = (await (await call('GET', `/v1/exports/${id}`)).json()) as ExportJobView;
    if (job.status === 'completed') return job;
    if (job.status !== 'queued' && job.status !== 'running') throw new Error(`export ${id} ${job.status}`);
    if (Date.now() > deadline) throw new Error(`export ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Everything a refused delete must leave as it was: the job, its audit entries and the chain head, the file. */
async function snapshot(id: string) {
  const running = stack!;
  const job = await (await call('GET', `/v1/exports/${id}`)).json();
  const audit = await (await call('GET', `/v1/audit?limit=1000`)).json();
  const stored = await running.adapters.jobStore.getJob(id);
  const key = stored?.value.artifactKey;
  expect(key).toBeDefined();
  return {
    job,
    audit,
    revision: stored?.revision,
    artifactBytes: await running.adapters.artifactStore.artifactSize(key!),
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'kt-export-retention-'));
  await start({ mode: 'COMPLIANCE', days: 2555 });
  const response = await call('POST', '/v1/events', { events: EVENTS });
  expect(response.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await stack?.workflow.idle();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('DELETE /v1/exports/{id} with an artifact retention set', () => {
  it('answers 409 problem+json naming the retention and leaves the artifact, job and audit trail as they were', async () => {
    const job = await completedExport();
    const before = await snapshot(job.id);
    expect(before.artifactBytes).toBe(job.bytes);

    const response = await call('DELETE', `/v1/exports/${job.id}`);
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const details = (await response.json()) as ProblemDetails;
    const until = new Date(Date.parse(job.completed!) + 2555 * 86_400_000).toISOString();
    expect(details).toMatchObject({ status: 409, title: 'Conflict' });
    expect(details.detail).toBe(
      `Export ${job.id} is under compliance retention until ${until} and cannot be deleted before then, by anyone: compliance-mode retention cannot be shortened or removed.`,
    );

    await stack!.workflow.idle();
    expect(await snapshot(job.id)).toEqual(before);
    // Still downloadable, byte for byte.
    const download = (await (await call('GET', `/v1/exports/${job.id}/download`)).json()) as { url: string };
    expect((await (await fetch(download.url)).arrayBuffer()).byteLength).toBe(job.bytes);
  });

  it('governance mode says who alone may remove the artifact, and that the API never bypasses', async () => {
    await start({ mode: 'GOVERNANCE', days: 1 });
    const job = await completedExport();
    const details = (await (await call('DELETE', `/v1/exports/${job.id}`)).json()) as ProblemDetails;
    expect(details.status).toBe(409);
    expect(details.detail).toMatch(/under governance retention until .+ cannot be deleted before then/);
    expect(details.detail).toMatch(/only an account administrator with s3:BypassGovernanceRetention/);
  });

  it('without the setting, the same exports delete: the artifact goes, the job stays as deleted', async () => {
    await start();
    const listed = (await (await call('GET', '/v1/exports?limit=100')).json()) as {
      exports: ExportJobView[];
    };
    expect(listed.exports.map((job) => job.status)).toEqual(['completed', 'completed']);
    for (const { id } of listed.exports) {
      const key = (await stack!.adapters.jobStore.getJob(id))?.value.artifactKey;
      const response = await call('DELETE', `/v1/exports/${id}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id, status: 'deleted' });
      expect(await stack!.adapters.artifactStore.artifactSize(key!)).toBeUndefined();
    }
  });
});
