/**
 * Where the adapters find their resources. On AWS every value comes from the Lambda's
 * environment (set by the CDK stack); the local stack passes endpoints of its embedded servers.
 */
export interface RuntimeConfig {
  readonly region: string;
  readonly eventsTable: string;
  readonly controlTable: string;
  readonly artifactBucket: string;
  /**
   * The export state machine; only the API starts executions, so only its Lambda has it.
   * @default - none: starting an export fails with a ConfigurationError
   */
  readonly stateMachineArn?: string;
  /** Local stack only: endpoints of the embedded DynamoDB and S3 servers. */
  readonly endpoints?: { readonly dynamodb: string; readonly s3: string };
}

export class ConfigurationError extends Error {
  constructor(readonly variable: string) {
    super(`Environment variable ${variable} is not set`);
    this.name = 'ConfigurationError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigurationError(name);
  return value;
}

/** The configuration a deployed Lambda reads from its environment. */
export function runtimeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  return {
    region: env.AWS_REGION ?? 'us-east-1',
    eventsTable: required(env, 'EVENTS_TABLE'),
    controlTable: required(env, 'CONTROL_TABLE'),
    artifactBucket: required(env, 'ARTIFACT_BUCKET'),
    ...(env.STATE_MACHINE_ARN ? { stateMachineArn: env.STATE_MACHINE_ARN } : {}),
  };
}
