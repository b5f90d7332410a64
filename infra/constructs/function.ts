import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Charset, type ICommandHooks, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ProjectPaths } from '../paths.ts';

/** The service name Powertools stamps on every log line, metric and trace. */
export const POWERTOOLS_SERVICE_NAME = 'keeptrusts-export';

/**
 * ESM bundles have no `require`; a few CommonJS dependencies call it for Node built-ins, so the
 * bundle defines one from `import.meta.url`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __ktCreateRequire } from 'node:module'; const require = __ktCreateRequire(import.meta.url);";

export interface ExportFunctionProps {
  /** Absolute path of the handler's TypeScript entry file (it exports `handler`). */
  readonly entry: string;
  /** Repository paths: the project root and lock file esbuild bundles against. */
  readonly paths: ProjectPaths;
  /** What the function does, shown in the console and on its role. */
  readonly description: string;
  /**
   * Environment variables on top of the ones every function gets
   * (POWERTOOLS_SERVICE_NAME, NODE_OPTIONS).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * Node.js options added to `--enable-source-maps` in NODE_OPTIONS (e.g. V8 heap limits).
   * @default - none
   */
  readonly nodeOptions?: readonly string[];
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /**
   * Files copied into the bundle beside the handler (the report's fonts): `from` an absolute
   * path, `to` a path inside the bundle, read at run time under LAMBDA_TASK_ROOT.
   * @default - none
   */
  readonly bundledFiles?: readonly { readonly from: string; readonly to: string }[];
  /**
   * How long the function's log group keeps its logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where asynchronous invocations that failed every retry go (the scheduled Lambda's fires).
   * @default - none
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * The KMS key that encrypts the function's log group (its key policy must let CloudWatch Logs
   * use it: LogEncryptionKey does).
   * @default - none: CloudWatch Logs' own encryption at rest
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * A Node.js 24 / arm64 Lambda bundled by the local esbuild (never Docker) into minified ESM with
 * source maps, logging JSON to its own log group with a fixed retention, traced by X-Ray, and
 * running under its own role whose only standing permission is writing to that log group (no
 * AWSLambdaBasicExecutionRole). Grant it everything else through the owning constructs'
 * `grant*` methods; it is an `IGrantable` for that.
 */
export class ExportFunction extends Construct implements iam.IGrantable {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: ExportFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      ...(props.logEncryptionKey === undefined ? {} : { encryptionKey: props.logEncryptionKey }),
      // Logs are operational evidence too; they outlive a stack deletion.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role: ${props.description}`,
      inlinePolicies: {
        Logs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              // The log group's ARN attribute covers its log streams (it ends in `:*`).
              resources: [this.logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });
    this.grantPrincipal = this.role;

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.paths.root,
      depsLockFilePath: props.paths.lockFile,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      ...(props.deadLetterQueue === undefined ? {} : { deadLetterQueue: props.deadLetterQueue }),
      environment: {
        POWERTOOLS_SERVICE_NAME,
        NODE_OPTIONS: ['--enable-source-maps', ...(props.nodeOptions ?? [])].join(' '),
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        // Minifying renames classes; errors name themselves after their class (`new.target.name`)
        // and Lambda reports that name as the error type, which Step Functions' Retry and Catch
        // match on (`DependencyError`). Keep the names.
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        charset: Charset.UTF8,
        logLevel: LogLevel.WARNING,
        // Ship the SDK versions the code was tested with (the lock file), not whatever the
        // runtime carries; lib-storage and the presigner are not guaranteed there anyway.
        bundleAwsSDK: true,
        ...(props.bundledFiles === undefined || props.bundledFiles.length === 0
          ? {}
          : { commandHooks: copyIntoBundle(props.bundledFiles) }),
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'HIPAA.Security-LambdaInsideVPC',
      reason:
        'The function reaches only AWS service APIs (DynamoDB, S3, KMS, Step Functions, Scheduler, X-Ray), ' +
        'over TLS and authorised by its own role; there is nothing of ours in a VPC to reach. A VPC would ' +
        'need a NAT gateway or an interface endpoint per service (and Deliver reaches buckets in other ' +
        'Regions) without narrowing what the role may do.',
    });
    Validations.of(this.role).acknowledge({
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason:
        "The role's policies are generated from the grants of the construct that owns this one function " +
        '(least privilege per function) and are attached to this role only, never shared; a customer ' +
        'managed policy would be the same statements under a second name, with a smaller size limit.',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
        'permissions (their only resource is "*"); these are the only actions the role holds on "*".',
    });
  }
}

/** esbuild bundles code only; data files (fonts) are copied in after it, as plain files. */
function copyIntoBundle(files: readonly { readonly from: string; readonly to: string }[]): ICommandHooks {
  const quote = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) =>
      files.map(({ from, to }) => {
        const target = `${outputDir}/${to}`;
        return `mkdir -p ${quote(target.slice(0, target.lastIndexOf('/')))} && cp ${quote(from)} ${quote(target)}`;
      }),
  };
}
