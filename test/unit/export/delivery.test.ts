import type { AuditEntry, AuditRecord } from '../../../functions/core/audit/audit-chain.ts';
import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ConflictError, DependencyError, type FieldIssue, ValidationError } from '../../../functions/core/errors.ts';
import {
  type DeliveryBucket,
  DeliveryRefusedError,
  DeliverySettingError,
  deliveryBucketsFrom,
  deliveryFailed,
  deliveryKeysOf,
  deliveryRequeued,
  MAX_PREFIX_BYTES,
  newDelivery,
  prefixRuleBroken,
} from '../../../functions/core/export/delivery.ts';
import { completeJob, type ExportJob, failJob, jobView, newExportJob, startJob } from '../../../functions/core/export/export-job.ts';
import { parseExportRequest } from '../../../functions/core/export/export-request.ts';
import { deliverExport, recordDeliveryFailure } from '../../../functions/core/export/workflow/deliver-export.ts';
import type { ExportWorkflowDeps } from '../../../functions/core/export/workflow/workflow-deps.ts';
import type { AuditLog, DeliveryDestination, DeliveryStore, ExportJobStore, Revisioned } from '../../../functions/core/ports.ts';

const ADMIN: Principal = { tokenId: 'tok_000000000001', name: 'admin', scopes: ['admin'] };
const ALLOWED: readonly DeliveryBucket[] = [
  { bucket: 'compliance-artifacts', account: '111122223333', region: 'us-east-1' },
  { bucket: 'audit-drop', account: '444455556666' },
];
const VALID = { from: '2026-04-01T00:00:00Z', to: '2026-04-23T23:59:59Z', format: 'json' };
const ID = 'exp_0123456789abcdefghjk';

function refusal(body: unknown): ValidationError {
  try {
    parseExportRequest(body, ADMIN, { deliveryBuckets: ALLOWED });
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected the request to be refused');
}

const withPrefix = (s3Prefix: unknown) => ({
  ...VALID,
  delivery: { s3Bucket: 'compliance-artifacts', s3Prefix },
});

describe('prefixRuleBroken: each rule, and its edges', () => {
  it.each([
    ['', undefined],
    ['keeptrusts/2026/q2/', undefined],
    ['a/', undefined],
    ['a..b/', undefined],
    ['.../', undefined],
    ['./', undefined],
    ['a/./b/', undefined],
    ['ü/日本/', undefined],
    ['a/../b/', 'must not contain a .. segment'],
    ['../', 'must not contain a .. segment'],
    ['a/../', 'must not contain a .. segment'],
    ['/a/', 'must not start with /'],
    ['/', 'must not start with /'],
    ['a//b/', 'must not contain //'],
    ['a//', 'must not contain //'],
    ['a\u0000/', 'must not contain control characters'],
    ['a\n/', 'must not contain control characters'],
    ['a\u007f/', 'must not contain control characters'],
    ['a\u009b/', 'must not contain control characters'],
    ['a', 'must be empty or end with /'],
    ['a/b', 'must be empty or end with /'],
    ['a/..', 'must not contain a .. segment'],
  ])('%j → %s', (prefix, rule) => {
    expect(prefixRuleBroken(prefix)).toBe(rule);
  });

  it('allows 512 bytes and refuses 513, counted in UTF-8 bytes, not characters', () => {
    const at = `${'a'.repeat(MAX_PREFIX_BYTES - 1)}/`;
    expect(Buffer.byteLength(at)).toBe(512);
    expect(prefixRuleBroken(at)).toBeUndefined();
    expect(prefixRuleBroken(`a${at}`)).toBe('must be at most 512 bytes of UTF-8');
    // 170 three-byte characters and "/" is 511 bytes; one more two-byte character is 513.
    const wide = `${'日'.repeat(170)}é/`;
    expect(Buffer.byteLength(wide)).toBe(513);
    expect(prefixRuleBroken(wide)).toBe('must be at most 512 bytes of UTF-8');
  });
});

describe('parseExportRequest: delivery', () => {
  it('accepts the tutorial Step 8 fields, with the region matching the allow-list', () => {
    const request = parseExportRequest(
      { ...VALID, delivery: { s3Bucket: 'compliance-artifacts', s3Prefix: 'keeptrusts/2026/q2/', s3Region: 'us-east-1' } },
      ADMIN,
      { deliveryBuckets: ALLOWED },
    );
    expect(request.delivery).toEqual({ bucket: 'compliance-artifacts', prefix: 'keeptrusts/2026/q2/', region: 'us-east-1' });
  });

  it('defaults the prefix to empty and the region to the allow-list entry’s', () => {
    expect(
      parseExportRequest({ ...VALID, delivery: { s3Bucket: 'compliance-artifacts' } }, ADMIN, { deliveryBuckets: ALLOWED })
        .delivery,
    ).toEqual({ bucket: 'compliance-artifacts', prefix: '', region: 'us-east-1' });
    expect(
      parseExportRequest({ ...VALID, delivery: { s3Bucket: 'audit-drop', s3Region: 'eu-west-1' } }, ADMIN, {
        deliveryBuckets: ALLOWED,
      }).delivery,
    ).toEqual({ bucket: 'audit-drop', prefix: '', region: 'eu-west-1' });
  });

  it('refuses a bucket off the allow-list, saying how to allow it', () => {
    const error = refusal({ ...VALID, delivery: { s3Bucket: 'someone-elses-bucket' } });
    expect(error.issues).toEqual<FieldIssue[]>([
      {
        field: 'delivery.s3Bucket',
        rule:
          '"someone-elses-bucket" is not an allowed delivery bucket; add it to the deployment\'s deliveryBuckets ' +
          '(locally: KT_DELIVERY_BUCKETS=someone-elses-bucket)',
      },
    ]);
    expect(error.message).toBe(
      's3Bucket "someone-elses-bucket" is not an allowed delivery bucket; add it to the deployment\'s ' +
        'deliveryBuckets (locally: KT_DELIVERY_BUCKETS=someone-elses-bucket).',
    );
  });

  it('refuses every bucket when the deployment allows none', () => {
    expect(() => parseExportRequest({ ...VALID, delivery: { s3Bucket: 'compliance-artifacts' } }, ADMIN)).toThrow(
      ValidationError,
    );
  });

  it.each([
    ['a/../b/', 'must not contain a .. segment'],
    ['/keeptrusts/', 'must not start with /'],
    ['keeptrusts//q2/', 'must not contain //'],
    ['keeptrusts\u001b[2J/', 'must not contain control characters'],
    ['keeptrusts/q2', 'must be empty or end with /'],
    [`${'p'.repeat(513)}/`, 'must be at most 512 bytes of UTF-8'],
  ])('refuses the prefix %j with a message naming it and the rule', (prefix, rule) => {
    const error = refusal(withPrefix(prefix));
    expect(error.issues).toEqual([{ field: 'delivery.s3Prefix', rule: `${JSON.stringify(prefix)} ${rule}` }]);
    expect(error.message).toBe(`s3Prefix ${JSON.stringify(prefix)} ${rule}.`);
  });

  it('refuses a region other than the bucket’s, a malformed one, unknown fields and a non-object', () => {
    expect(refusal({ ...VALID, delivery: { s3Bucket: 'compliance-artifacts', s3Region: 'eu-west-1' } }).issues).toEqual([
      { field: 'delivery.s3Region', rule: 'is eu-west-1 but bucket compliance-artifacts is in us-east-1' },
    ]);
    expect(refusal({ ...VALID, delivery: { s3Bucket: 'audit-drop', s3Region: 'mars' } }).issues).toEqual([
      { field: 'delivery.s3Region', rule: 'must be an AWS region such as us-east-1' },
    ]);
    expect(refusal({ ...VALID, delivery: { s3Bucket: 'audit-drop', bucket: 'x' } }).issues).toEqual([
      { field: 'delivery.bucket', rule: 'is not a known field; allowed fields are s3Bucket, s3Prefix, s3Region' },
    ]);
    expect(refusal({ ...VALID, delivery: 's3://audit-drop/' }).issues).toEqual([
      { field: 'delivery', rule: 'must be a JSON object' },
    ]);
    expect(refusal({ ...VALID, delivery: { s3Prefix: 'a/' } }).issues).toEqual([
      { field: 'delivery.s3Bucket', rule: 'must be a bucket name' },
    ]);
  });
});

describe('deliveryBucketsFrom (DELIVERY_BUCKETS, context deliveryBuckets)', () => {
  it('reads JSON text or an array; empty means none', () => {
    expect(deliveryBucketsFrom(JSON.stringify(ALLOWED), 'DELIVERY_BUCKETS')).toEqual(ALLOWED);
    expect(deliveryBucketsFrom(ALLOWED, 'context deliveryBuckets')).toEqual(ALLOWED);
    expect(deliveryBucketsFrom('', 'DELIVERY_BUCKETS')).toEqual([]);
    expect(deliveryBucketsFrom(undefined, 'DELIVERY_BUCKETS')).toEqual([]);
  });

  it.each([
    ['not json', 'DELIVERY_BUCKETS: must be a JSON array of {"bucket","account","region"?}'],
    [{ bucket: 'a' }, 'DELIVERY_BUCKETS: must be an array of {"bucket","account","region"?}'],
    [[{ bucket: 'Bad_Bucket', account: '111122223333' }], 'DELIVERY_BUCKETS: [0].bucket must be an S3 bucket name'],
    [[{ bucket: 'ok-bucket' }], 'DELIVERY_BUCKETS: [0].account must be the 12-digit account id that owns ok-bucket'],
    [[{ bucket: 'ok-bucket', account: '1', region: 'x' }], 'DELIVERY_BUCKETS: [0].account must be the 12-digit account id that owns ok-bucket'],
    [[{ bucket: 'ok-bucket', account: '111122223333', region: 'x' }], 'DELIVERY_BUCKETS: [0].region must be an AWS region such as us-east-1'],
    [[{ bucket: 'ok-bucket', account: '111122223333', owner: 'me' }], 'DELIVERY_BUCKETS: [0].owner is not a known field (bucket, account, region)'],
    [
      [
        { bucket: 'ok-bucket', account: '111122223333' },
        { bucket: 'ok-bucket', account: '444455556666' },
      ],
      'DELIVERY_BUCKETS: [1].bucket ok-bucket is listed twice',
    ],
  ])('refuses %j naming the entry', (raw, message) => {
    const attempt = () => deliveryBucketsFrom(typeof raw === 'string' ? raw : JSON.stringify(raw), 'DELIVERY_BUCKETS');
    expect(attempt).toThrow(DeliverySettingError);
    expect(attempt).toThrow(message);
  });
});

describe('the delivery sub-record of a job', () => {
  const created = new Date('2026-05-01T12:00:00Z');
  const queued = (): ExportJob =>
    newExportJob(
      {
        range: { from: VALID.from, to: VALID.to },
        format: 'json',
        filters: {},
        delivery: { bucket: 'compliance-artifacts', prefix: 'keeptrusts/2026/q2/', region: 'us-east-1' },
      },
      ADMIN,
      created,
      ID,
    );
  const completed = (): ExportJob =>
    completeJob(
      {
        ...startJob(queued(), created),
        checkpoint: undefined,
      } as ExportJob,
      {
        records: 3,
        bytes: 100,
        sha256: 'a'.repeat(64),
        recordsDigest: 'b'.repeat(64),
        artifactKey: `exports/${ID}/${ID}.json`,
        manifestKey: `exports/${ID}/${ID}.json.manifest.json`,
      },
      created,
    );

  it('starts pending, and the view shows where it goes', () => {
    const view = jobView(queued());
    expect(view.delivery).toEqual({
      bucket: 'compliance-artifacts',
      prefix: 'keeptrusts/2026/q2/',
      region: 'us-east-1',
      location: 's3://compliance-artifacts/keeptrusts/2026/q2/',
      status: 'pending',
      attempts: 0,
    });
    expect(deliveryKeysOf(queued(), queued().delivery!)).toEqual({
      artifactKey: `keeptrusts/2026/q2/${ID}.json`,
      manifestKey: `keeptrusts/2026/q2/${ID}.json.manifest.json`,
    });
  });

  it('ends failed, not pending, when the export fails (there is nothing to deliver)', () => {
    const failed = failJob(queued(), 'boom', 'Prepare', created);
    expect(failed.delivery).toMatchObject({ status: 'failed', attempts: 0 });
    expect(failed.delivery!.error).toMatch(/nothing to deliver/);
  });

  it('can be requeued only when completed and not delivered', () => {
    const job = completed();
    const failed = { ...job, delivery: deliveryFailed(job.delivery!, 'NoSuchBucket') };
    expect(deliveryRequeued(failed)).toEqual({ ...job.delivery, attempts: 1, status: 'pending' });
    expect(() => deliveryRequeued({ ...job, delivery: { ...job.delivery!, status: 'delivered' } })).toThrow(ConflictError);
    expect(() => deliveryRequeued(queued())).toThrow(/only a completed export can be delivered/);
    const { delivery: _none, ...plain } = job;
    expect(() => deliveryRequeued(plain)).toThrow(/has no delivery/);
  });
});

describe('deliverExport (the Deliver step)', () => {
  const created = new Date('2026-05-01T12:00:00Z');
  const completedJob = (delivery = true): ExportJob => {
    const base = newExportJob(
      {
        range: { from: VALID.from, to: VALID.to },
        format: 'csv',
        filters: {},
        ...(delivery ? { delivery: { bucket: 'audit-drop', prefix: 'kt/' } } : {}),
      },
      ADMIN,
      created,
      ID,
    );
    return completeJob(startJob(base, created), {
      records: 1,
      bytes: 10,
      sha256: 'c'.repeat(64),
      recordsDigest: 'd'.repeat(64),
      artifactKey: `exports/${ID}/${ID}.csv`,
      manifestKey: `exports/${ID}/${ID}.csv.manifest.json`,
    }, created);
  };

  function world(job: ExportJob, copy: (key: string, to: DeliveryDestination) => Promise<void>) {
    let stored: Revisioned<ExportJob> = { value: job, revision: 1 };
    const entries: AuditEntry[] = [];
    const copies: [string, DeliveryDestination][] = [];
    const jobs = {
      getJob: async () => stored,
      saveJob: async (value: ExportJob, revision: number) => {
        if (revision !== stored.revision) throw new ConflictError('moved');
        stored = { value, revision: revision + 1 };
        return stored.revision;
      },
    } as unknown as ExportJobStore;
    const audit = {
      append: async (record: AuditRecord) => {
        const entry = { ...record, seq: entries.length + 1, prevHash: '', hash: '' } as AuditEntry;
        entries.push(entry);
        return entry;
      },
      entries: async () => entries,
    } as unknown as AuditLog;
    const delivery: DeliveryStore = {
      copyToCustomer: async (key, to) => {
        copies.push([key, to]);
        await copy(key, to);
      },
    };
    const deps = { jobs, audit, delivery, deliveryBuckets: ALLOWED, now: () => created } as unknown as ExportWorkflowDeps;
    return { deps, entries, copies, job: () => stored.value };
  }

  it('copies the artifact, then its manifest, to the bucket with its owner, and records both URIs', async () => {
    const w = world(completedJob(), async () => {});
    await deliverExport(w.deps, ID);
    expect(w.copies).toEqual([
      [`exports/${ID}/${ID}.csv`, { bucket: 'audit-drop', account: '444455556666', key: `kt/${ID}.csv`, contentType: 'text/csv; charset=utf-8' }],
      [
        `exports/${ID}/${ID}.csv.manifest.json`,
        { bucket: 'audit-drop', account: '444455556666', key: `kt/${ID}.csv.manifest.json`, contentType: 'application/json' },
      ],
    ]);
    expect(w.job().status).toBe('completed');
    expect(w.job().delivery).toEqual({
      bucket: 'audit-drop',
      prefix: 'kt/',
      status: 'delivered',
      objectUri: `s3://audit-drop/kt/${ID}.csv`,
      manifestUri: `s3://audit-drop/kt/${ID}.csv.manifest.json`,
      attempts: 1,
      deliveredAt: created.toISOString(),
    });
    expect(w.entries.map((e) => [e.action, e.details?.attempt])).toEqual([['export.delivered', 1]]);
    // A retried step after the outcome was saved copies nothing and audits nothing twice.
    await deliverExport(w.deps, ID);
    expect(w.copies).toHaveLength(2);
    expect(w.entries).toHaveLength(1);
  });

  it('records a refusal as a failed delivery with the reason; the export stays completed', async () => {
    const w = world(completedJob(), async () => {
      throw new DeliveryRefusedError(`Writing s3://audit-drop/kt/${ID}.csv failed: NoSuchBucket: The specified bucket does not exist`);
    });
    await expect(deliverExport(w.deps, ID)).resolves.toEqual({ exportId: ID });
    expect(w.job().status).toBe('completed');
    expect(w.job().delivery).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringContaining('NoSuchBucket') });
    expect(w.entries.map((e) => e.action)).toEqual(['export.delivery_failed']);
    expect(w.entries[0]!.details).toMatchObject({ attempt: 1, bucket: 'audit-drop', prefix: 'kt/', reason: expect.stringContaining('NoSuchBucket') });
  });

  it('throws a transient failure for the state machine to retry, and RecordAudit records it when retries run out', async () => {
    const w = world(completedJob(), async () => {
      throw new DependencyError('S3 SlowDown');
    });
    await expect(deliverExport(w.deps, ID)).rejects.toThrow(DependencyError);
    expect(w.job().delivery?.status).toBe('pending');
    await recordDeliveryFailure(w.deps, ID, { Error: 'DependencyError', Cause: 'S3 SlowDown' });
    expect(w.job().delivery).toMatchObject({ status: 'failed', error: 'DependencyError: S3 SlowDown', attempts: 1 });
    expect(w.entries.map((e) => e.action)).toEqual(['export.delivery_failed']);
  });

  it('fails the delivery when its bucket was taken off the allow-list since', async () => {
    const w = world(completedJob(), async () => {});
    const deps = { ...w.deps, deliveryBuckets: [] };
    await deliverExport(deps, ID);
    expect(w.copies).toEqual([]);
    expect(w.job().delivery?.error).toMatch(/"audit-drop" is not an allowed delivery bucket/);
  });

  it('saves its outcome onto the job as it is now when someone saved it during the copy', async () => {
    let bumped = false;
    const w = world(completedJob(), async () => {});
    const jobs = w.deps.jobs;
    const deps = {
      ...w.deps,
      jobs: {
        getJob: (id: string) => jobs.getJob(id),
        saveJob: async (value: ExportJob, revision: number) => {
          if (!bumped) {
            bumped = true;
            // A redelivery request saved the job (still pending) while the copy ran.
            const now = (await jobs.getJob(ID))!;
            await jobs.saveJob({ ...now.value, title: 'renamed meanwhile' }, now.revision);
          }
          return jobs.saveJob(value, revision);
        },
      } as unknown as ExportJobStore,
    };
    await deliverExport(deps, ID);
    expect(w.job().delivery?.status).toBe('delivered');
    expect(w.job().title).toBe('renamed meanwhile');
    expect(w.entries.map((e) => e.action)).toEqual(['export.delivered']);
  });

  it('passes a job without a delivery', async () => {
    const w = world(completedJob(false), async () => {});
    await deliverExport(w.deps, ID);
    expect(w.copies).toEqual([]);
    expect(w.entries).toEqual([]);
    expect(w.job().delivery).toBeUndefined();
  });

  it('keeps the first reason when a failure is long, within bounds', () => {
    const failed = deliveryFailed(newDelivery({ bucket: 'b-b-b', prefix: '' }), 'x'.repeat(5000));
    expect(failed.error!.length).toBeLessThanOrEqual(1000);
  });
});

describe('the local allow-list (KT_DELIVERY_BUCKETS)', () => {
  it('is compliance-artifacts plus the comma-separated buckets, each once', async () => {
    const { localConfigFromEnv } = await import('../../../infra/local/local-config.ts');
    expect(localConfigFromEnv({}).deliveryBuckets).toEqual(['compliance-artifacts']);
    expect(
      localConfigFromEnv({ KT_DELIVERY_BUCKETS: ' audit-drop, ,compliance-artifacts,late-bucket,audit-drop' }).deliveryBuckets,
    ).toEqual(['compliance-artifacts', 'audit-drop', 'late-bucket']);
    expect(() => localConfigFromEnv({ KT_DELIVERY_BUCKETS: 'Not_A_Bucket' })).toThrow(
      'KT_DELIVERY_BUCKETS must be comma-separated S3 bucket names (KT_DELIVERY_BUCKETS: [1].bucket must be an S3 bucket name)',
    );
  });
});

describe('the Deliver step’s input', () => {
  it('carries the failure a Catch passed on to RecordAudit', async () => {
    const { parseStepInput } = await import('../../../functions/handlers/workflow/step-input.ts');
    expect(
      parseStepInput({ exportId: ID, deliveryFailure: { Error: 'DependencyError', Cause: 'S3 SlowDown' } }),
    ).toEqual({ exportId: ID, deliveryFailure: { Error: 'DependencyError', Cause: 'S3 SlowDown' } });
    expect(parseStepInput({ exportId: ID, redeliver: true })).toEqual({ exportId: ID });
  });
});
