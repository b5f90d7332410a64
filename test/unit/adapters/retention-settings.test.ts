import { App } from 'aws-cdk-lib';
import {
  artifactRetentionEnvironment,
  runtimeConfigFromEnv,
} from '../../../functions/adapters/runtime-config.ts';
import { RetentionSettingError } from '../../../functions/core/export/artifact-retention.ts';
import { localConfigFromEnv } from '../../../infra/local/local-config.ts';
import { LocalStackError } from '../../../infra/local/local-stack-error.ts';
import { artifactRetentionFromContext } from '../../../infra/retention-context.ts';

/** The three places a retention setting is read: the Lambda's env, `npm start`'s env, CDK context. */

const LAMBDA_ENV = { EVENTS_TABLE: 'events', CONTROL_TABLE: 'control', ARTIFACT_BUCKET: 'artifacts' };

describe('RuntimeConfig (the Lambda environment)', () => {
  it('has no retention unless both variables are set', () => {
    expect(runtimeConfigFromEnv(LAMBDA_ENV).artifactRetention).toBeUndefined();
  });

  it('reads what artifactRetentionEnvironment writes', () => {
    const environment = artifactRetentionEnvironment({ mode: 'GOVERNANCE', days: 90 });
    expect(environment).toEqual({ ARTIFACT_RETENTION_MODE: 'GOVERNANCE', ARTIFACT_RETENTION_DAYS: '90' });
    expect(runtimeConfigFromEnv({ ...LAMBDA_ENV, ...environment }).artifactRetention).toEqual({
      mode: 'GOVERNANCE',
      days: 90,
    });
    expect(artifactRetentionEnvironment(undefined)).toEqual({});
  });

  it('refuses a half or bad setting rather than running without retention', () => {
    expect(() => runtimeConfigFromEnv({ ...LAMBDA_ENV, ARTIFACT_RETENTION_MODE: 'COMPLIANCE' })).toThrow(
      'ARTIFACT_RETENTION_MODE needs ARTIFACT_RETENTION_DAYS as well',
    );
  });
});

describe('npm start (KT_ARTIFACT_RETENTION_MODE, KT_ARTIFACT_RETENTION_DAYS)', () => {
  it('is off by default and on with both settings', () => {
    expect(localConfigFromEnv({}).artifactRetention).toBeUndefined();
    expect(
      localConfigFromEnv({ KT_ARTIFACT_RETENTION_MODE: 'compliance', KT_ARTIFACT_RETENTION_DAYS: '2555' })
        .artifactRetention,
    ).toEqual({ mode: 'COMPLIANCE', days: 2555 });
  });

  it.each([
    [
      { KT_ARTIFACT_RETENTION_MODE: 'WORM', KT_ARTIFACT_RETENTION_DAYS: '7' },
      /^KT_ARTIFACT_RETENTION_MODE must be/,
    ],
    [
      { KT_ARTIFACT_RETENTION_MODE: 'GOVERNANCE', KT_ARTIFACT_RETENTION_DAYS: '-1' },
      /^KT_ARTIFACT_RETENTION_DAYS must be/,
    ],
    [{ KT_ARTIFACT_RETENTION_DAYS: '7' }, /^KT_ARTIFACT_RETENTION_DAYS needs KT_ARTIFACT_RETENTION_MODE/],
  ])('refuses %j with one line (a LocalStackError, so main prints it and exits 1)', (env, message) => {
    expect(() => localConfigFromEnv(env)).toThrow(LocalStackError);
    expect(() => localConfigFromEnv(env)).toThrow(message);
  });
});

describe('CDK context (-c artifactRetentionMode=… -c artifactRetentionDays=…)', () => {
  it('reads strings from -c and numbers from cdk.json', () => {
    expect(artifactRetentionFromContext(new App().node)).toBeUndefined();
    const fromFlags = new App({
      context: { artifactRetentionMode: 'COMPLIANCE', artifactRetentionDays: '2555' },
    });
    expect(artifactRetentionFromContext(fromFlags.node)).toEqual({ mode: 'COMPLIANCE', days: 2555 });
    const fromJson = new App({ context: { artifactRetentionMode: 'GOVERNANCE', artifactRetentionDays: 30 } });
    expect(artifactRetentionFromContext(fromJson.node)).toEqual({ mode: 'GOVERNANCE', days: 30 });
  });

  it('names the context key to fix', () => {
    const app = new App({
      context: { artifactRetentionMode: 'COMPLIANCE', artifactRetentionDays: 'forever' },
    });
    expect(() => artifactRetentionFromContext(app.node)).toThrow(RetentionSettingError);
    expect(() => artifactRetentionFromContext(app.node)).toThrow(
      'context artifactRetentionDays must be a whole number of days from 1 to 36500 (got "forever")',
    );
  });
});
