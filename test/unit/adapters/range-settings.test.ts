import {
  type Adapters,
  exportOperationDeps,
  scheduleOperationDeps,
} from '../../../functions/adapters/composition-root.ts';
import { runtimeConfigFromEnv } from '../../../functions/adapters/runtime-config.ts';
import { localConfigFromEnv } from '../../../infra/local/local-config.ts';
import { LocalStackError } from '../../../infra/local/local-stack-error.ts';

/** The longest export range, a deployment setting: the Lambda's `MAX_RANGE_DAYS`, `npm start`'s `KT_MAX_RANGE_DAYS`. */

const LAMBDA_ENV = { EVENTS_TABLE: 'events', CONTROL_TABLE: 'control', ARTIFACT_BUCKET: 'artifacts' };

describe('maxRangeDays', () => {
  it('is absent (the default, 366) unless set, and reaches the export and schedule operations', () => {
    expect(runtimeConfigFromEnv(LAMBDA_ENV).maxRangeDays).toBeUndefined();
    const config = runtimeConfigFromEnv({ ...LAMBDA_ENV, MAX_RANGE_DAYS: '731' });
    expect(config.maxRangeDays).toBe(731);
    const adapters = { config } as unknown as Adapters;
    expect(exportOperationDeps(adapters).maxRangeDays).toBe(731);
    expect(scheduleOperationDeps(adapters).maxRangeDays).toBe(731);
    expect(
      exportOperationDeps({ config: runtimeConfigFromEnv(LAMBDA_ENV) } as unknown as Adapters),
    ).not.toHaveProperty('maxRangeDays');
  });

  it.each(['0', '-1', '1.5', 'year', '3661'])('refuses MAX_RANGE_DAYS=%s, naming it', (value) => {
    expect(() => runtimeConfigFromEnv({ ...LAMBDA_ENV, MAX_RANGE_DAYS: value })).toThrow(
      /^MAX_RANGE_DAYS must be a whole number of days from 1 to 3660/,
    );
  });

  it('is read from KT_MAX_RANGE_DAYS by npm start', () => {
    expect(localConfigFromEnv({}).maxRangeDays).toBeUndefined();
    expect(localConfigFromEnv({ KT_MAX_RANGE_DAYS: '30' }).maxRangeDays).toBe(30);
    expect(() => localConfigFromEnv({ KT_MAX_RANGE_DAYS: '0' })).toThrow(LocalStackError);
  });
});
