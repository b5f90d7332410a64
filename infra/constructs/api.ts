import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { artifactRetentionEnvironment } from '../../functions/adapters/runtime-config.ts';
import { type ProjectPaths, projectPaths } from '../paths.ts';
import type { IExportData } from './data.ts';
import { ExportFunction } from './function.ts';
import type { IEvidenceSigningKey } from './signing.ts';
import type { IExportWorkflow } from './workflow.ts';

/** The header the token authorizer reads; also its cache key. */
export const AUTHORIZATION_IDENTITY_SOURCE = '$request.header.Authorization';

/** Stage-wide throttling unless the caller sets its own. */
export const DEFAULT_THROTTLE: apigwv2.ThrottleSettings = { rateLimit: 100, burstLimit: 200 };

/**
 * One JSON object per request. Never the Authorization header or bodies: only who (source IP,
 * user agent), what (route, status, sizes, latencies) and why it failed (authorizer and
 * integration errors).
 */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  authorizerLatency: '$context.authorizer.latency',
};

export interface ExportApiProps {
  /** The tables and bucket the API reads and writes; grants are taken from it. */
  readonly data: IExportData;
  /** The export workflow the API starts (`POST /v1/exports`); its ARN is `STATE_MACHINE_ARN`. */
  readonly workflow: IExportWorkflow;
  /**
   * The evidence signing key: the API lists its public keys (GET /v1/keys) and signs audit
   * checkpoints when it appends to the audit trail.
   */
  readonly signingKey: IEvidenceSigningKey;
  /**
   * Where the handler entry files and the lock file are.
   * @default - found from the working directory (the folder holding cdk.json)
   */
  readonly paths?: ProjectPaths;
  /**
   * Stage-wide throttling (steady requests per second and burst).
   * @default DEFAULT_THROTTLE (100 requests/s, burst 200)
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * How long API Gateway caches an authorizer result per Authorization header value. The cache
   * saves authorizer invocations only: the API Lambda looks the token up again on every request
   * (functions/handlers/http/token-recheck.ts), so a revoked or expired token is refused at once.
   * @default Duration.minutes(5)
   */
  readonly authorizerCacheTtl?: Duration;
  /**
   * Retention of the access log group and of both functions' log groups.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The HTTP API: a Lambda REQUEST authorizer (simple responses, keyed and cached on the
 * Authorization header) in front of every route, all routes served by one `api` Lambda (a middy
 * router), JSON access logs to CloudWatch and stage-wide throttling.
 *
 * Routes: `POST /v1/events` (ingest) and `ANY /v1/{proxy+}` for the routes the router adds later.
 * Nothing outside `/v1/` is routed, and no route is reachable without the authorizer.
 */
export class ExportApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly apiFunction: ExportFunction;
  readonly authorizerFunction: ExportFunction;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ExportApiProps) {
    super(scope, id);
    const paths = props.paths ?? projectPaths();
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const { data } = props;
    const environment = data.runtimeEnvironment();

    this.authorizerFunction = new ExportFunction(this, 'Authorizer', {
      entry: paths.handlerEntry('authorizer'),
      paths,
      description: 'Keeptrusts Export: API token authorizer',
      environment,
      memorySize: 256,
      timeout: Duration.seconds(10),
      logRetention,
    });
    // A token lookup is one GetItem by the token hash; nothing else.
    data.grantControlGetItem(this.authorizerFunction);

    this.apiFunction = new ExportFunction(this, 'Api', {
      entry: paths.handlerEntry('api'),
      paths,
      description: 'Keeptrusts Export: HTTP API (/v1 router)',
      environment: {
        ...environment,
        ...props.signingKey.runtimeEnvironment(),
        STATE_MACHINE_ARN: props.workflow.stateMachine.stateMachineArn,
        // DELETE /v1/exports/{id} enforces the retention itself (S3 would accept the delete marker).
        ...artifactRetentionEnvironment(data.artifactRetention),
      },
      memorySize: 512,
      // HTTP API integrations time out after 30 s.
      timeout: Duration.seconds(29),
      logRetention,
    });
    // Ingest writes events; jobs, schedules, idempotency keys and audit entries live in the control
    // table; downloads are presigned GET URLs (signed with this role, so it needs GetObject and the
    // key) and DELETE /v1/exports/{id} removes the artifact. Artifacts are written only by the
    // workflow, and only the workflow's executions are started here.
    data.grantEventsReadWrite(this.apiFunction);
    data.grantControlReadWrite(this.apiFunction);
    data.grantArtifactsRead(this.apiFunction);
    data.grantArtifactsDelete(this.apiFunction);
    // Audit appends (create, download, delete, event conflicts) may write a signed checkpoint.
    data.grantAuditCheckpointsWrite(this.apiFunction);
    props.workflow.grantStartExecution(this.apiFunction);
    // Audit appends (create, download, delete, ingest conflicts) sign checkpoints; GET /v1/keys
    // reads the public keys. The only function that may read them.
    props.signingKey.grantSign(this.apiFunction);
    props.signingKey.grantGetPublicKey(this.apiFunction);

    const authorizer = new HttpLambdaAuthorizer('TokenAuthorizer', this.authorizerFunction.function, {
      authorizerName: 'token-authorizer',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [AUTHORIZATION_IDENTITY_SOURCE],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Keeptrusts Export API',
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? DEFAULT_THROTTLE,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integration = new HttpLambdaIntegration('ApiIntegration', this.apiFunction.function);
    this.httpApi.addRoutes({ path: '/v1/events', methods: [apigwv2.HttpMethod.POST], integration });
    this.httpApi.addRoutes({ path: '/v1/{proxy+}', methods: [apigwv2.HttpMethod.ANY], integration });
  }

  /** The base URL clients use (`KEEPTRUSTS_API_URL`), ending in `/`. */
  get url(): string {
    return this.stage.url;
  }
}
