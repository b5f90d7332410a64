import { createExport } from '../../../cli/export/create-action.ts';
import { showExportStatus } from '../../../cli/export/job-actions.ts';
import { redeliverExport } from '../../../cli/export/redeliver-action.ts';
import { ApiError, CommandFailedError, exitCodeFor, UsageError } from '../../../cli/errors.ts';
import { exportContext, type FakeApi, ID, jobView, problem, sendJson, startFakeApi } from './export-fixtures.ts';
import { rejection } from './helpers.ts';

/** `kt export create --s3-…`, the Delivery line of `kt export status`, and `kt export redeliver`. */

let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(() => api.close());
beforeEach(() => api.reset());

const STEP_8 = {
  from: '2026-04-01T00:00:00Z',
  to: '2026-04-23T23:59:59Z',
  format: 'json',
  s3Bucket: 'compliance-artifacts',
  s3Prefix: 'keeptrusts/2026/q2/',
  s3Region: 'us-east-1',
} as const;

const delivery = (overrides: Record<string, unknown> = {}) => ({
  bucket: 'compliance-artifacts',
  prefix: 'keeptrusts/2026/q2/',
  region: 'us-east-1',
  location: 's3://compliance-artifacts/keeptrusts/2026/q2/',
  status: 'pending',
  attempts: 0,
  ...overrides,
});

describe('kt export create with --s3-bucket (tutorial Step 8)', () => {
  it('sends delivery {s3Bucket, s3Prefix, s3Region} and prints the Step 8 block exactly', async () => {
    api.route('POST /v1/exports', (_req, res) =>
      sendJson(res, 202, jobView({ status: 'queued', records: 0, bytes: undefined, completed: undefined, delivery: delivery() })),
    );
    const { context, globals, io } = exportContext(api.url);
    await createExport(context, globals, STEP_8);
    expect(JSON.parse(api.seen[0]!.body)).toEqual({
      from: STEP_8.from,
      to: STEP_8.to,
      format: 'json',
      delivery: { s3Bucket: 'compliance-artifacts', s3Prefix: 'keeptrusts/2026/q2/', s3Region: 'us-east-1' },
    });
    expect(io.out()).toBe(
      [
        '✓ Export job created',
        `Job ID: ${ID}`,
        'Format: json',
        'Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/',
        'Status: queued',
        '',
      ].join('\n'),
    );
  });

  it("refuses a prefix the API would refuse before sending, with the API's rule (exit 2)", async () => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...STEP_8, s3Prefix: 'a/../b/' }));
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).toBe('--s3-prefix "a/../b/" must not contain a .. segment');
    expect(api.seen).toEqual([]);
  });

  it('names the flag when the API refuses the bucket, which only the deployment can check', async () => {
    api.route('POST /v1/exports', (_req, res) =>
      problem(res, 400, {
        detail: 's3Bucket "someone-elses-bucket" is not an allowed delivery bucket.',
        errors: [{ field: 'delivery.s3Bucket', rule: '"someone-elses-bucket" is not an allowed delivery bucket' }],
      }),
    );
    const { context, globals } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...STEP_8, s3Bucket: 'someone-elses-bucket' }));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as Error).message).toBe('--s3-bucket "someone-elses-bucket" is not an allowed delivery bucket');
  });

  it.each([
    [{ s3Prefix: 'a/' }, '--s3-prefix needs --s3-bucket'],
    [{ s3Region: 'us-east-1' }, '--s3-region needs --s3-bucket'],
    [{ s3Bucket: ' ' }, '--s3-bucket must name a bucket'],
  ])('refuses %j before any request', async (flags, message) => {
    const { context, globals } = exportContext(api.url);
    const error = await rejection(
      createExport(context, globals, { from: STEP_8.from, to: STEP_8.to, format: 'json', ...flags }),
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(message);
    expect(api.seen).toEqual([]);
  });

  it('with --wait, waits for the delivery too and exits 1 when it failed', async () => {
    api.route('POST /v1/exports', (_req, res) =>
      sendJson(res, 202, jobView({ status: 'queued', delivery: delivery() })),
    );
    const views = [
      jobView({ delivery: delivery() }),
      jobView({ delivery: delivery({ status: 'failed', attempts: 1, error: 'Writing s3://… failed: NoSuchBucket' }) }),
    ];
    api.route(`GET /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, views.length > 1 ? views.shift() : views[0]));
    const { context, globals, io } = exportContext(api.url);
    const error = await rejection(createExport(context, globals, { ...STEP_8, wait: true }, { pollIntervalMs: 1 }));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as Error).message).toBe(
      `export ${ID} completed but its delivery failed: Writing s3://… failed: NoSuchBucket; kt export redeliver --id ${ID} tries again`,
    );
    expect(io.out()).toContain(
      `Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json (failed: Writing s3://… failed: NoSuchBucket)`,
    );
  });
});

describe('kt export status: the Delivery line', () => {
  it.each([
    [delivery({ status: 'delivered', objectUri: `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json`, attempts: 1 }), `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json (delivered)`],
    [delivery({ status: 'failed', error: 'NoSuchBucket: The specified bucket does not exist', attempts: 1 }), `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json (failed: NoSuchBucket: The specified bucket does not exist)`],
    [delivery(), `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json (pending)`],
  ])('%#: shows the object URI and the delivery state', async (view, line) => {
    api.route(`GET /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, jobView({ delivery: view })));
    const { context, globals, io } = exportContext(api.url);
    await showExportStatus(context, globals, { id: ID });
    expect(io.out().split('\n')).toContain(`Delivery: ${line}`);
    expect(io.out().split('\n').at(-2)).toBe(`Delivery: ${line}`);
  });

  it('has no Delivery line for an export without one', async () => {
    api.route(`GET /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, jobView()));
    const { context, globals, io } = exportContext(api.url);
    await showExportStatus(context, globals, { id: ID });
    expect(io.out()).not.toContain('Delivery');
  });
});

describe('kt export redeliver', () => {
  const delivered = delivery({
    status: 'delivered',
    objectUri: `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json`,
    manifestUri: `s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json.manifest.json`,
    attempts: 2,
  });

  it('posts the redelivery, follows it to its outcome and prints where it went', async () => {
    api.route(`POST /v1/exports/${ID}/redeliver`, (_req, res) => sendJson(res, 202, jobView({ delivery: delivery({ attempts: 1 }) })));
    const views = [jobView({ delivery: delivery({ attempts: 1 }) }), jobView({ delivery: delivered })];
    api.route(`GET /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, views.length > 1 ? views.shift() : views[0]));
    const { context, globals, io } = exportContext(api.url);
    await redeliverExport(context, globals, { id: ID }, { pollIntervalMs: 1 });
    expect(io.out()).toBe(
      [
        `✓ Export ${ID} delivered`,
        `Delivery: s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json (delivered)`,
        `Manifest: s3://compliance-artifacts/keeptrusts/2026/q2/${ID}.json.manifest.json`,
        '',
      ].join('\n'),
    );
    expect(api.seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      `POST /v1/exports/${ID}/redeliver`,
      `GET /v1/exports/${ID}`,
      `GET /v1/exports/${ID}`,
    ]);
  });

  it('exits 1 with the reason when it fails again, and prints the job with -o json', async () => {
    const failed = delivery({ status: 'failed', attempts: 2, error: 'AccessDenied: Access Denied' });
    api.route(`POST /v1/exports/${ID}/redeliver`, (_req, res) => sendJson(res, 202, jobView({ delivery: delivery() })));
    api.route(`GET /v1/exports/${ID}`, (_req, res) => sendJson(res, 200, jobView({ delivery: failed })));
    const { context, globals, io } = exportContext(api.url, 'json');
    const error = await rejection(redeliverExport(context, globals, { id: ID }, { pollIntervalMs: 1 }));
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as Error).message).toBe(
      `delivery of export ${ID} failed: AccessDenied: Access Denied; kt export redeliver --id ${ID} tries again`,
    );
    expect(JSON.parse(io.out()).delivery).toEqual(failed);
  });

  it('shows the API’s reason for a refusal (409)', async () => {
    api.route(`POST /v1/exports/${ID}/redeliver`, (_req, res) =>
      problem(res, 409, { detail: `Export ${ID} was already delivered to s3://compliance-artifacts/x.json.` }),
    );
    const { context, globals } = exportContext(api.url);
    const error = await rejection(redeliverExport(context, globals, { id: ID }));
    expect((error as Error).message).toBe(`Export ${ID} was already delivered to s3://compliance-artifacts/x.json.`);
  });
});
