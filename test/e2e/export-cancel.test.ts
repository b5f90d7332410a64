import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Adapters, createAdapters } from '../../functions/adapters/composition-root.ts';
import { newExportId } from '../../functions/core/export/export-id.ts';
import { newExportJob } from '../../functions/core/export/export-job.ts';
import { LOCAL_REGION } from '../../infra/local/local-config.ts';
import { LOCAL_RESOURCES } from '../../infra/local/local-stack.ts';
import { freePort } from '../support/free-port.ts';
import { ktFor, type RunResult, type StartedStack, startFreshStack } from '../support/processes.ts';

/**
 * `kt export cancel` with the real binary against `npm start`. An export of the local stack runs
 * to its end in well under a second, too fast to catch from another process, so the queued export
 * here is stored straight into the stack's DynamoDB with the project's own job store: an export
 * whose workflow has not started yet, as after a create that stopped before starting it. (The
 * integration tests hold real workflow starts and steps to cancel queued and running exports.)
 */
describe('kt export cancel', () => {
  let root: string;
  let stack: StartedStack;
  let direct: Adapters;
  let kt: (args: readonly string[]) => Promise<RunResult>;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-e2e-cancel-'));
    const dynamodbPort = await freePort();
    const s3Port = await freePort();
    stack = await startFreshStack(root, { KT_DYNAMODB_PORT: String(dynamodbPort), KT_S3_PORT: String(s3Port) });
    kt = ktFor(stack);
    direct = createAdapters({
      region: LOCAL_REGION,
      ...LOCAL_RESOURCES,
      endpoints: { dynamodb: `http://127.0.0.1:${dynamodbPort}`, s3: `http://127.0.0.1:${s3Port}` },
    });
  }, 180_000);

  afterAll(async () => {
    direct?.clients.dynamodb.destroy();
    direct?.clients.s3.destroy();
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A queued export whose workflow has not started. */
  async function queuedExport(): Promise<string> {
    const job = newExportJob(
      { range: { from: '2026-04-16T00:00:00Z', to: '2026-04-23T23:59:59Z' }, format: 'json', filters: {} },
      { tokenId: 'tok_e2ecancel0000', name: 'e2e', scopes: ['admin'] },
      new Date(),
      newExportId(),
    );
    await direct.jobStore.createJob(job);
    return job.id;
  }

  it('cancels a queued export: ✓ Export … cancelled, then status, list and the audit trail say so', async () => {
    const id = await queuedExport();
    const cancelled = await kt(['export', 'cancel', '--id', id]);
    expect(cancelled.stderr).toBe('');
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toBe(
      `✓ Export ${id} cancelled\nNo artifact was published; the job and its audit entries remain.\n`,
    );

    const status = await kt(['export', 'status', '--id', id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Export: ${id}\nStatus: cancelled\n`));
    expect(status.stdout).toMatch(/^Cancelled: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/m);

    const list = await kt(['export', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+json\\s+cancelled\\s+0\\s`, 'm'));

    const audit = await kt(['audit', 'list', '--subject', id, '-o', 'json']);
    expect(audit.code).toBe(0);
    const entries = (JSON.parse(audit.stdout) as { entries: { action: string; details?: unknown }[] }).entries;
    expect(entries.map((entry) => entry.action)).toEqual(['export.cancelled']);
    expect(entries[0]?.details).toEqual({ status: 'queued', records: 0 });

    // Again: the same job, as JSON, and nothing more in the trail.
    const again = await kt(['export', 'cancel', '--id', id, '-o', 'json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id, status: 'cancelled', records: 0 });
    const after = await kt(['audit', 'list', '--subject', id, '-o', 'json']);
    expect((JSON.parse(after.stdout) as { entries: unknown[] }).entries).toHaveLength(1);
  }, 120_000);

  it('refuses a finished export with one line and exit 1, and names a missing one', async () => {
    const created = await kt([
      'export',
      'create',
      '--from',
      '2026-04-16T00:00:00Z',
      '--to',
      '2026-04-23T23:59:59Z',
      '--format',
      'json',
      '--wait',
      '-o',
      'json',
    ]);
    expect(created.code).toBe(0);
    const { id, status } = JSON.parse(created.stdout) as { id: string; status: string };
    expect(status).toBe('completed');

    const refused = await kt(['export', 'cancel', '--id', id]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `error: Export ${id} is completed; only a queued or running export can be cancelled. ` +
        `To remove its artifact, delete it (kt export delete --id ${id}).\n`,
    );

    const missing = newExportId();
    const notFound = await kt(['export', 'cancel', '--id', missing]);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toBe(`error: Export ${missing} was not found\n`);

    const usage = await kt(['export', 'cancel', '--id', 'exp_nope']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  }, 120_000);
});
