import { exportLimitsEnvironment, runtimeConfigFromEnv } from '../../../functions/adapters/runtime-config.ts';
import { localConfigFromEnv } from '../../../infra/local/local-config.ts';
import { LocalStackError } from '../../../infra/local/local-stack-error.ts';

/** Where the limits against runaway cost are read: the Lambda's env, and `npm start`'s env. */

const LAMBDA_ENV = { EVENTS_TABLE: 'events', CONTROL_TABLE: 'control', ARTIFACT_BUCKET: 'artifacts' };

describe('RuntimeConfig (MAX_RUNNING_EXPORTS_PER_PRINCIPAL, MAX_EXPORT_RECORDS)', () => {
  it('has no limits set unless a variable is, and reads what exportLimitsEnvironment writes', () => {
    expect(runtimeConfigFromEnv(LAMBDA_ENV).limits).toBeUndefined();
    expect(exportLimitsEnvironment({})).toEqual({});
    const environment = exportLimitsEnvironment({ maxRunningExportsPerPrincipal: 7 });
    expect(environment).toEqual({ MAX_RUNNING_EXPORTS_PER_PRINCIPAL: '7' });
    expect(runtimeConfigFromEnv({ ...LAMBDA_ENV, ...environment }).limits).toEqual({
      maxRunningExportsPerPrincipal: 7,
    });
  });

  it.each(['0', '-1', '2.5', 'many'])('refuses MAX_EXPORT_RECORDS=%s, naming it', (value) => {
    expect(() => runtimeConfigFromEnv({ ...LAMBDA_ENV, MAX_EXPORT_RECORDS: value })).toThrow(
      `MAX_EXPORT_RECORDS must be a whole number of 1 or more, not "${value}"`,
    );
  });
});

describe('npm start (KT_MAX_RUNNING_EXPORTS, KT_MAX_EXPORT_RECORDS, KT_MAX_SCHEDULES)', () => {
  it('leaves each to its default unless set', () => {
    const config = localConfigFromEnv({});
    expect([config.maxRunningExports, config.maxExportRecords, config.maxSchedules]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(
      localConfigFromEnv({ KT_MAX_RUNNING_EXPORTS: '2', KT_MAX_EXPORT_RECORDS: '1000', KT_MAX_SCHEDULES: '3' }),
    ).toMatchObject({ maxRunningExports: 2, maxExportRecords: 1000, maxSchedules: 3 });
  });

  it('refuses a bad value with one line (a LocalStackError, so main prints it and exits 1)', () => {
    expect(() => localConfigFromEnv({ KT_MAX_RUNNING_EXPORTS: '0' })).toThrow(LocalStackError);
    expect(() => localConfigFromEnv({ KT_MAX_RUNNING_EXPORTS: '0' })).toThrow(
      'KT_MAX_RUNNING_EXPORTS must be a whole number from 1 to 10000 (got "0")',
    );
  });
});
