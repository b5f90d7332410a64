import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store.ts';
import { DynamoRunningExportSlots } from '../../functions/adapters/dynamodb/running-export-slots.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import { LimitExceededError } from '../../functions/core/errors.ts';
import {
  claimRunningSlot,
  type RunningExportLimit,
  releaseRunningSlot,
} from '../../functions/core/export/export-limits.ts';
import { type ExportJob, failJob, newExportJob, startJob } from '../../functions/core/export/export-job.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../support/embedded-dynamodb.ts';
import { rejection } from '../support/rejection.ts';

/**
 * The running-exports limit on the real embedded DynamoDB (dynalite): the slots adapter and the
 * claim rules of functions/core/export/export-limits.ts, including concurrent claims.
 */

const NOW = new Date('2026-05-01T12:00:00Z');
const MINUTE = 60_000;
let db: EmbeddedDynamoDb;
let slots: DynamoRunningExportSlots;
let jobs: DynamoJobStore;
let owners = 0;

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  slots = new DynamoRunningExportSlots(db.documents, db.tables.controlTable);
  jobs = new DynamoJobStore(db.documents, db.tables.controlTable);
});

afterAll(async () => db?.close());

/** A principal of its own for each test: its own slots. */
function principal(): Principal {
  owners += 1;
  return { tokenId: `tok_${String(owners).padStart(12, '0')}`, name: 'ci', scopes: ['admin'] };
}

let ids = 0;
function nextId(): string {
  ids += 1;
  return `exp_${String(ids).padStart(20, '0')}`;
}

function jobOf(owner: Principal, createdAt: Date, id = nextId()): ExportJob {
  return newExportJob(
    { range: { from: '2026-04-01T00:00:00Z', to: '2026-04-30T23:59:59Z' }, format: 'json', filters: {} },
    owner,
    createdAt,
    id,
  );
}

const limit = (max: number): RunningExportLimit => ({ slots, max });

/** Claims a slot and stores the job, as creating an export does. */
async function createAs(owner: Principal, max: number, at = NOW): Promise<ExportJob> {
  const job = jobOf(owner, at);
  await claimRunningSlot(limit(max), jobs, owner.tokenId, job.id, at);
  await jobs.createJob(job);
  return job;
}

const held = async (owner: Principal) =>
  (await slots.takenSlots(owner.tokenId)).map((slot) => slot.exportId).sort();

it('gives out exactly `max` slots to concurrent creates: the others get a 429', async () => {
  const owner = principal();
  const attempts = Array.from({ length: 12 }, () => nextId());
  const outcomes = await Promise.allSettled(
    attempts.map((id) => claimRunningSlot(limit(3), jobs, owner.tokenId, id, NOW)),
  );
  const won = attempts.filter((_, n) => outcomes[n]!.status === 'fulfilled');
  expect(won).toHaveLength(3);
  expect(await held(owner)).toEqual([...won].sort());
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      expect(outcome.reason).toBeInstanceOf(LimitExceededError);
      expect((outcome.reason as LimitExceededError).retryAfterSeconds).toBe(30);
    }
  }
});

it('a repeat claim of an export that holds a slot keeps it, without taking another', async () => {
  const owner = principal();
  const job = await createAs(owner, 2);
  await claimRunningSlot(limit(2), jobs, owner.tokenId, job.id, NOW);
  expect(await held(owner)).toEqual([job.id]);
});

it('a released slot is free again; releasing twice, or a slot never held, is harmless', async () => {
  const owner = principal();
  const first = await createAs(owner, 1);
  const error = await rejection(createAs(owner, 1), LimitExceededError);
  expect(error.message).toBe(
    '1 export of this token is already queued or running (the limit is 1 at a time)',
  );
  const failed = failJob(startJob(first, NOW), 'boom', 'ExportPage', NOW);
  await releaseRunningSlot(slots, failed);
  await releaseRunningSlot(slots, failed);
  await slots.releaseSlot(owner.tokenId, 'exp_neverheld');
  const second = await createAs(owner, 1);
  expect(await held(owner)).toEqual([second.id]);
});

it('takes over a slot whose export finished without releasing it', async () => {
  const owner = principal();
  const first = await createAs(owner, 1);
  const found = await jobs.getJob(first.id);
  await jobs.saveJob(failJob(found!.value, 'crashed before the release', 'Finalize', NOW), found!.revision);
  const second = await createAs(owner, 1);
  expect(await held(owner)).toEqual([second.id]);
});

it.each([
  ['no job 5 minutes after the claim (the create stopped before storing it)', 'missing', 6, 4],
  ['a job still queued 15 minutes after creation (its workflow never started)', 'queued', 16, 14],
  [
    'a job still running 12 hours after it started (the state machine stopped it)',
    'running',
    12 * 60 + 1,
    12 * 60 - 1,
  ],
] as const)('frees the slot of %s, and not sooner', async (_, state, after, before) => {
  const owner = principal();
  const start = new Date(NOW.getTime());
  const first = jobOf(owner, start);
  await claimRunningSlot(limit(1), jobs, owner.tokenId, first.id, start);
  if (state !== 'missing') await jobs.createJob(first);
  if (state === 'running') {
    const found = await jobs.getJob(first.id);
    await jobs.saveJob(startJob(found!.value, start), found!.revision);
  }
  const at = (minutes: number) => new Date(start.getTime() + minutes * MINUTE);
  await rejection(claimRunningSlot(limit(1), jobs, owner.tokenId, nextId(), at(before)), LimitExceededError);
  const next = nextId();
  await claimRunningSlot(limit(1), jobs, owner.tokenId, next, at(after));
  expect(await held(owner)).toEqual([next]);
});

it('a lower limit counts every export still running, and gives no slot until enough finish', async () => {
  const owner = principal();
  await createAs(owner, 3);
  await createAs(owner, 3);
  await createAs(owner, 3);
  const error = await rejection(createAs(owner, 2), LimitExceededError);
  expect(error.message).toBe(
    '3 exports of this token are already queued or running (the limit is 2 at a time)',
  );
});

it('names an IAM caller as such', async () => {
  const iam = 'iam:arn:aws:iam::111122223333:role/exporter';
  await claimRunningSlot(limit(1), jobs, iam, nextId(), NOW);
  const error = await rejection(claimRunningSlot(limit(1), jobs, iam, nextId(), NOW), LimitExceededError);
  expect(error.message).toBe(
    '1 export of this IAM caller is already queued or running (the limit is 1 at a time)',
  );
});
