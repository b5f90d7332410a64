import type { Principal } from '../../../functions/core/auth/token-record.ts';
import { ResumableSha256 } from '../../../functions/core/digest/resumable-sha256.ts';
import { ValidationError } from '../../../functions/core/errors.ts';
import type { ExportCheckpoint } from '../../../functions/core/export/export-checkpoint.ts';
import {
  completeJob,
  type ExportJob,
  failJob,
  jobView,
  MAX_ERROR_REASON_CHARS,
  newExportJob,
  startJob,
} from '../../../functions/core/export/export-job.ts';
import {
  DEFAULT_PART_BYTES,
  MIN_PART_BYTES,
  partThreshold,
} from '../../../functions/core/export/workflow/export-page.ts';
import {
  failedStateOf,
  failureReason,
} from '../../../functions/core/export/workflow/mark-export-failed.ts';
import { pageReserveMs } from '../../../functions/handlers/workflow/export-page.ts';
import { parseStepInput } from '../../../functions/handlers/workflow/step-input.ts';
import { WORKFLOW_STATE_NAMES } from '../../../infra/constructs/workflow-definition.ts';

const ID = 'exp_0123456789abcdefghjk';
const PRINCIPAL: Principal = { tokenId: 'tok_0123456789ab', name: 'ci', scopes: ['exports:write'] };
// Four days: quarter days are exact binary fractions, so expected percentages are exact.
const FROM = '2026-04-01T00:00:00Z';
const TO = '2026-04-05T00:00:00Z';

const queued = (range = { from: FROM, to: TO }): ExportJob =>
  newExportJob({ range, format: 'json', filters: {} }, PRINCIPAL, new Date('2026-05-01T12:00:00Z'), ID);
const running = (range?: { from: string; to: string }): ExportJob =>
  startJob(queued(range), new Date('2026-05-01T12:00:01Z'));

function checkpoint(overrides: Partial<ExportCheckpoint> = {}): ExportCheckpoint {
  return {
    artifactKey: `exports/${ID}/${ID}.json`,
    uploadId: 'upload-1',
    parts: [],
    records: 0,
    bytes: 0,
    digest: new ResumableSha256().toState(),
    recordsDigest: new ResumableSha256().toState(),
    done: false,
    ...overrides,
  };
}

/** A running job whose last written event is at `instant` (its sort key: `<instant>#<id>`). */
const writtenThrough = (instant: string, done = false, range?: { from: string; to: string }): ExportJob => ({
  ...running(range),
  records: 10,
  checkpoint: checkpoint({
    parts: [{ partNumber: 1, etag: '"e1"' }],
    records: 10,
    bytes: 1000,
    afterSortKey: `${instant}#evt_last`,
    done,
  }),
});

/** Whether a string holds a high or low surrogate without its partner. */
const hasLoneSurrogate = (text: string) =>
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

describe('failureReason', () => {
  it('takes the message from a Lambda error Cause (AWS JSON shape) and drops the trace', () => {
    const cause = JSON.stringify({
      errorType: 'DependencyError',
      errorMessage: 'Reading decision events failed: ProvisionedThroughputExceededException',
      trace: ['DependencyError: Reading decision events failed', '    at DynamoEventStore.stream (/var/task/index.js:1:2)'],
    });
    const reason = failureReason({ Error: 'DependencyError', Cause: cause });
    expect(reason).toBe('DependencyError: Reading decision events failed: ProvisionedThroughputExceededException');
    expect(reason).not.toContain('/var/task');
  });

  it('uses a plain-text Cause (the local runner) as the message', () => {
    expect(failureReason({ Error: 'IntegrityError', Cause: 'The artifact has 10 bytes, not 12.' })).toBe(
      'IntegrityError: The artifact has 10 bytes, not 12.',
    );
  });

  it('uses a JSON Cause without an errorMessage string as text', () => {
    expect(failureReason({ Error: 'Boom', Cause: '{"errorType":"Boom"}' })).toBe('Boom: {"errorType":"Boom"}');
    expect(failureReason({ Error: 'Boom', Cause: '{"errorMessage":42}' })).toBe('Boom: {"errorMessage":42}');
  });

  it('names only the error when there is no Cause, or an empty one', () => {
    expect(failureReason({ Error: 'Lambda.ServiceException' })).toBe('Lambda.ServiceException');
    expect(failureReason({ Error: 'Lambda.ServiceException', Cause: '   ' })).toBe('Lambda.ServiceException');
    expect(failureReason({ Error: 'X', Cause: JSON.stringify({ errorType: 'X', errorMessage: '' }) })).toBe('X');
  });

  it('explains a States.Timeout that has no cause', () => {
    expect(failureReason({ Error: 'States.Timeout' })).toBe('States.Timeout: the step did not finish in time');
    expect(failureReason({ Error: 'States.Timeout', Cause: '' })).toBe(
      'States.Timeout: the step did not finish in time',
    );
    // With a cause, the cause says it.
    expect(failureReason({ Error: 'States.Timeout', Cause: 'Task timed out after 900 seconds' })).toBe(
      'States.Timeout: Task timed out after 900 seconds',
    );
  });

  it('does not repeat a name the message already starts with', () => {
    expect(failureReason({ Error: 'DependencyError', Cause: 'DependencyError: S3 is down' })).toBe(
      'DependencyError: S3 is down',
    );
    expect(
      failureReason({
        Error: 'DependencyError',
        Cause: JSON.stringify({ errorType: 'DependencyError', errorMessage: 'DependencyError: S3 is down' }),
      }),
    ).toBe('DependencyError: S3 is down');
    // Only the exact `Name:` prefix counts: a message merely starting with the name gets it.
    expect(failureReason({ Error: 'Dependency', Cause: 'DependencyError: S3 is down' })).toBe(
      'Dependency: DependencyError: S3 is down',
    );
  });

  it('says Error when nothing is known, and trims what it is given', () => {
    expect(failureReason(undefined)).toBe('Error');
    expect(failureReason({})).toBe('Error');
    expect(failureReason({ Error: '  ', Cause: ' something broke \n' })).toBe('Error: something broke');
  });
});

describe('failedStateOf', () => {
  it('is Prepare before a checkpoint exists', () => {
    expect(failedStateOf(queued())).toBe('Prepare');
    expect(failedStateOf(running())).toBe('Prepare');
  });

  it('is ExportPage while pages are being written', () => {
    expect(failedStateOf({ ...running(), checkpoint: checkpoint() })).toBe('ExportPage');
    expect(failedStateOf(writtenThrough('2026-04-02T00:00:00.000Z'))).toBe('ExportPage');
  });

  it('is Finalize once every page is written', () => {
    expect(failedStateOf(writtenThrough('2026-04-04T23:00:00.000Z', true))).toBe('Finalize');
  });

  it('always names a real state of the workflow definition', () => {
    const names = Object.values(WORKFLOW_STATE_NAMES);
    for (const job of [running(), { ...running(), checkpoint: checkpoint() }, writtenThrough(FROM, true)]) {
      expect(names).toContain(failedStateOf(job));
    }
  });
});

describe('jobView progress', () => {
  it('is 0 while running before the first part is written', () => {
    expect(jobView(running()).progress).toEqual({ percent: 0 });
    expect(jobView({ ...running(), checkpoint: checkpoint() }).progress).toEqual({ percent: 0 });
  });

  it.each([
    ['2026-04-01T00:00:00.000Z', 0],
    ['2026-04-02T00:00:00.000Z', 25],
    ['2026-04-03T00:00:00.000Z', 50],
    ['2026-04-04T00:00:00.000Z', 75],
    ['2026-04-04T23:59:59.999Z', 99],
  ])('is the share of the range written through %s: %i%%', (through, percent) => {
    expect(jobView(writtenThrough(through)).progress).toEqual({ percent, through });
  });

  it('rounds down, so a part just short of a whole percent does not claim it', () => {
    // 1% of four days is 3,456,000 ms; one millisecond short stays at 0.
    expect(jobView(writtenThrough('2026-04-01T00:57:35.999Z')).progress?.percent).toBe(0);
    expect(jobView(writtenThrough('2026-04-01T00:57:36.000Z')).progress?.percent).toBe(1);
  });

  it('is capped at 99 until done, even at the very end of the range or of a zero-length range', () => {
    expect(jobView(writtenThrough('2026-04-05T00:00:00.000Z')).progress?.percent).toBe(99);
    const instant = '2026-04-03T12:00:00Z';
    expect(
      jobView(writtenThrough('2026-04-03T12:00:00.000Z', false, { from: instant, to: instant })).progress?.percent,
    ).toBe(99);
  });

  it('is 100 once done', () => {
    expect(jobView(writtenThrough('2026-04-02T00:00:00.000Z', true)).progress).toEqual({
      percent: 100,
      through: '2026-04-02T00:00:00.000Z',
    });
    // Done with no events at all.
    expect(jobView({ ...running(), checkpoint: checkpoint({ done: true }) }).progress).toEqual({ percent: 100 });
  });

  it('is absent when the job is not running', () => {
    const result = {
      records: 10,
      bytes: 1000,
      sha256: 'a'.repeat(64),
      artifactKey: `exports/${ID}/${ID}.json`,
      recordsDigest: 'b'.repeat(64),
      manifestKey: `exports/${ID}/${ID}.json.manifest.json`,
    };
    const jobs = [
      queued(),
      completeJob(writtenThrough('2026-04-03T00:00:00.000Z', true), result, new Date('2026-05-01T12:01:00Z')),
      failJob(writtenThrough('2026-04-03T00:00:00.000Z'), 'broke', 'ExportPage', new Date('2026-05-01T12:01:00Z')),
    ];
    for (const job of jobs) expect(Object.hasOwn(jobView(job), 'progress')).toBe(false);
  });
});

describe('failJob cutting a long reason', () => {
  const EMOJI = '\u{1F600}';

  it.each(Array.from({ length: 8 }, (_, i) => MAX_ERROR_REASON_CHARS - 6 + i))(
    'never splits a surrogate pair (emoji from UTF-16 index %i on)',
    (start) => {
      const text = 'a'.repeat(start) + EMOJI.repeat(50);
      const reason = failJob(running(), text, 'ExportPage', new Date('2026-05-01T12:01:00Z')).error!.reason;
      expect(hasLoneSurrogate(reason)).toBe(false);
      // Valid UTF-16 survives a round trip through UTF-8 unchanged.
      expect(Buffer.from(reason, 'utf8').toString('utf8')).toBe(reason);
      expect(reason.length).toBeLessThanOrEqual(MAX_ERROR_REASON_CHARS);
      expect(reason.length).toBeGreaterThanOrEqual(MAX_ERROR_REASON_CHARS - 1);
      expect(reason.endsWith('…')).toBe(true);
      expect(text.startsWith(reason.slice(0, -1))).toBe(true);
    },
  );

  it('drops the whole emoji when its high half is the last unit that fits', () => {
    const cut = MAX_ERROR_REASON_CHARS - 1; // units kept before the ellipsis
    const text = `${'a'.repeat(cut - 1)}${EMOJI}tail`;
    const reason = failJob(running(), text, undefined, new Date('2026-05-01T12:01:00Z')).error!.reason;
    expect(reason).toBe(`${'a'.repeat(cut - 1)}…`);
  });

  it('keeps the whole emoji when it ends exactly at the cut', () => {
    const cut = MAX_ERROR_REASON_CHARS - 1;
    const text = `${'a'.repeat(cut - 2)}${EMOJI}tail`;
    const reason = failJob(running(), text, undefined, new Date('2026-05-01T12:01:00Z')).error!.reason;
    expect(reason).toBe(`${'a'.repeat(cut - 2)}${EMOJI}…`);
    expect(reason).toHaveLength(MAX_ERROR_REASON_CHARS);
  });
});

describe('partThreshold', () => {
  it('is the base size for parts 1 to 1,000 and grows by the base every 1,000 parts', () => {
    const base = MIN_PART_BYTES;
    expect(partThreshold(1, base)).toBe(base);
    expect(partThreshold(1000, base)).toBe(base);
    expect(partThreshold(1001, base)).toBe(2 * base);
    expect(partThreshold(2000, base)).toBe(2 * base);
    expect(partThreshold(2001, base)).toBe(3 * base);
    expect(partThreshold(9999, base)).toBe(10 * base);
    expect(partThreshold(10_000, base)).toBe(10 * base);
  });

  it('never shrinks from one part to the next, and never goes below S3 minimum', () => {
    let previous = 0;
    for (let part = 1; part <= 10_000; part += 1) {
      const threshold = partThreshold(part, DEFAULT_PART_BYTES);
      expect(threshold).toBeGreaterThanOrEqual(previous);
      expect(threshold).toBeGreaterThanOrEqual(MIN_PART_BYTES);
      previous = threshold;
    }
  });

  it("lets S3's 10,000 parts hold over 280 GB at the default part size", () => {
    let total = 0;
    for (let part = 1; part <= 10_000; part += 1) total += partThreshold(part, DEFAULT_PART_BYTES);
    expect(total).toBeGreaterThan(280e9);
  });
});

describe('parseStepInput', () => {
  it('accepts an export id and drops anything else', () => {
    expect(parseStepInput({ exportId: ID })).toEqual({ exportId: ID });
    expect(parseStepInput({ exportId: ID, done: true, extra: 'x' })).toEqual({ exportId: ID });
  });

  it('keeps a failure with its Error and Cause strings, and drops fields that are not strings', () => {
    expect(parseStepInput({ exportId: ID, failure: { Error: 'States.Timeout', Cause: 'late' } })).toEqual({
      exportId: ID,
      failure: { Error: 'States.Timeout', Cause: 'late' },
    });
    expect(parseStepInput({ exportId: ID, failure: { Error: 7, Cause: { a: 1 }, Other: 'x' } })).toEqual({
      exportId: ID,
      failure: {},
    });
    expect(parseStepInput({ exportId: ID, failure: { Error: 'E' } })).toEqual({ exportId: ID, failure: { Error: 'E' } });
  });

  it('ignores a failure that is not an object', () => {
    expect(parseStepInput({ exportId: ID, failure: 'boom' })).toEqual({ exportId: ID });
    expect(parseStepInput({ exportId: ID, failure: null })).toEqual({ exportId: ID });
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a bare id string', ID],
    ['an empty object', {}],
    ['a number id', { exportId: 12 }],
    ['a short id', { exportId: 'exp_0123' }],
    ['an upper-case id', { exportId: ID.toUpperCase() }],
    ['an id with a letter outside the alphabet', { exportId: 'exp_0123456789abcdefghji' }],
    ['an id with a suffix', { exportId: `${ID}/../x` }],
    ['an id under another key', { exportID: ID }],
  ])('refuses %s with a ValidationError naming exportId', (_, input) => {
    let error: unknown;
    try {
      parseStepInput(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toEqual(['exportId']);
  });
});

describe('pageReserveMs', () => {
  it.each([
    [900_000, 180_000],
    [600_000, 120_000],
    [300_001, 60_000.2],
    [300_000, 60_000],
    [120_000, 60_000],
    [0, 60_000],
  ])('keeps back max(60 s, 20%%) of %i ms: %d ms', (remaining, reserve) => {
    expect(pageReserveMs(remaining)).toBeCloseTo(reserve, 6);
  });

  it('always leaves a 15-minute Lambda more than half its time for pages', () => {
    expect(900_000 - pageReserveMs(900_000)).toBeGreaterThan(450_000);
  });
});
