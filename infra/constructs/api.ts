import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpIamAuthorizer,
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { artifactRetentionEnvironment, exportLimitsEnvironment } from '../../functions/adapters/runtime-config.ts';
import { ROUTES } from '../../functions/handlers/api.ts';
import { type ProjectPaths, projectPaths } from '../paths.ts';
import type { IExportData } from './data.ts';
import { ExportFunction } from './function.ts';
import type { IEvidenceSigningKey } from './signing.ts';
import type { IExportWorkflow } from './workflow.ts';

/** The header the token authorizer reads; also its cache key. */
export const AUTHORIZATION_IDENTITY_SOURCE = '$request.header.Authorization';

/** Throttling of every route of each stage unless the caller sets its own. */
export const DEFAULT_THROTTLE: apigwv2.ThrottleSettings = { rateLimit: 100, burstLimit: 200 };

/**
 * The routes API Gateway serves, on both APIs (token and IAM), all to the one API Lambda: ingest,
 * and every other `/v1/` path for the Lambda's router (functions/handlers/api.ts, ROUTES), which
 * answers a path no route takes with a problem+json 404 or 405. One list, so the two APIs cannot
 * drift apart; nothing outside `/v1/` is routed.
 */
export const API_GATEWAY_ROUTES: readonly {
  readonly path: string;
  readonly method: apigwv2.HttpMethod;
}[] = [
  { path: '/v1/events', method: apigwv2.HttpMethod.POST },
  { path: '/v1/{proxy+}', method: apigwv2.HttpMethod.ANY },
];

/** A route of the API router, as `METHOD /path` with its parameters (`GET /v1/exports/{id}`). */
export type ApiRouteKey = `${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /v1/${string}`;

/** Every route key of the API router (functions/handlers/api.ts), in its order. */
export const API_ROUTE_KEYS: readonly ApiRouteKey[] = ROUTES.map(
  (route) => `${String(route.method).toUpperCase()} ${route.path}` as ApiRouteKey,
);

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

/** The IAM API's access log adds who signed (the caller's account and ARN, never the signature). */
const IAM_ACCESS_LOG_FIELDS = {
  ...ACCESS_LOG_FIELDS,
  callerAccountId: '$context.identity.accountId',
  callerArn: '$context.identity.userArn',
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
   * Default route throttling of each API's stage (steady requests per second and burst), the same
   * for the token API and the IAM API, each on its own. Requests over it get 429 from API Gateway
   * before any Lambda runs. A value left out keeps its default; the rate is requests per second
   * (0 or more), the burst a whole number of requests (0 or more).
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
   * Retention of both APIs' access log groups and of both functions' log groups.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The KMS key that encrypts the access log groups and the functions' log groups.
   * @default - none: CloudWatch Logs' own encryption at rest
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * Exports one principal may have queued or running at once (`MAX_RUNNING_EXPORTS_PER_PRINCIPAL`);
   * the next create is a 429 with Retry-After.
   * @default DEFAULT_MAX_RUNNING_EXPORTS (5)
   */
  readonly maxRunningExportsPerPrincipal?: number;
}

/**
 * The API, as two HTTP APIs in front of one `api` Lambda (a middy router), with the same routes
 * (API_GATEWAY_ROUTES), JSON access logs to CloudWatch and default route throttling on each stage:
 *
 * - the token API (`httpApi`, `url`): a Lambda REQUEST authorizer (simple responses, keyed and
 *   cached on the Authorization header) in front of every route, for `Bearer` API tokens;
 * - the IAM API (`iamHttpApi`, `iamUrl`): every route authorised with AWS_IAM, for SigV4-signed
 *   requests, so IAM policies can scope automation per route (`grantInvoke`). The Lambda sees the
 *   caller as `requestContext.authorizer.iam`.
 *
 * Nothing outside `/v1/` is routed, and no route of either API is reachable without its authorizer.
 */
export class ExportApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  /** The HTTP API whose routes are authorised with AWS_IAM (SigV4). */
  readonly iamHttpApi: apigwv2.HttpApi;
  readonly iamStage: apigwv2.HttpStage;
  readonly apiFunction: ExportFunction;
  readonly authorizerFunction: ExportFunction;
  readonly accessLogGroup: logs.LogGroup;
  readonly iamAccessLogGroup: logs.LogGroup;
  /** Principals that already carry the acknowledgment for an execute-api ARN with a wildcard. */
  private readonly invokeWildcardsAcknowledged = new WeakMap<IConstruct, Set<string>>();

  constructor(scope: Construct, id: string, props: ExportApiProps) {
    super(scope, id);
    const paths = props.paths ?? projectPaths();
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const logEncryption =
      props.logEncryptionKey === undefined ? {} : { logEncryptionKey: props.logEncryptionKey };
    const throttle = throttleSettings(props.throttle);
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
      ...logEncryption,
    });
    // A token lookup is one GetItem by the token hash (`TOKEN#<sha256>` items only); nothing else.
    data.grantControlItems(this.authorizerFunction, ['dynamodb:GetItem'], ['tokens']);

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
        ...exportLimitsEnvironment({ maxRunningExportsPerPrincipal: props.maxRunningExportsPerPrincipal }),
      },
      memorySize: 512,
      // HTTP API integrations time out after 30 s.
      timeout: Duration.seconds(29),
      logRetention,
      ...logEncryption,
    });
    // Ingest claims event ids and writes events, and never reads events back. Every kind of item in
    // the control table is served here (jobs, idempotency keys, tokens, schedules, audit trail,
    // running-export slots, and the lists on its GSIs). Downloads are presigned GET URLs (signed
    // with this role, so it needs GetObject and the key), GET .../manifest reads the manifest,
    // DELETE /v1/exports/{id} removes the artifact and POST /v1/exports/{id}/cancel aborts the
    // export's open uploads; artifacts are written only by the workflow, and only the workflow's
    // executions are started (and, to cancel an export, stopped) here.
    data.grantEventIngest(this.apiFunction);
    data.grantControlReadWrite(this.apiFunction);
    data.grantExportObjects(this.apiFunction, ['s3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload']);
    // Audit appends (create, download, delete, event conflicts) may write a signed checkpoint, and
    // GET /v1/audit/checkpoint reads the latest one.
    data.grantAuditCheckpointsWrite(this.apiFunction);
    data.grantAuditCheckpointsRead(this.apiFunction);
    props.workflow.grantStartExecution(this.apiFunction);
    props.workflow.grantStopExecution(this.apiFunction);
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
      ...(props.logEncryptionKey === undefined ? {} : { encryptionKey: props.logEncryptionKey }),
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    addRoutes(this.httpApi, new HttpLambdaIntegration('ApiIntegration', this.apiFunction.function));

    // The same routes again, each authorised with AWS_IAM: API Gateway checks the SigV4 signature
    // and the caller's execute-api:Invoke permission on the route before the Lambda runs.
    this.iamHttpApi = new apigwv2.HttpApi(this, 'IamApi', {
      description: 'Keeptrusts Export API (IAM-authorised: SigV4-signed requests)',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    this.iamAccessLogGroup = new logs.LogGroup(this, 'IamAccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.logEncryptionKey === undefined ? {} : { encryptionKey: props.logEncryptionKey }),
    });
    this.iamStage = new apigwv2.HttpStage(this, 'IamStage', {
      httpApi: this.iamHttpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.iamAccessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(IAM_ACCESS_LOG_FIELDS)),
      },
    });
    // An integration belongs to one API: the IAM API has its own, to the same function.
    addRoutes(this.iamHttpApi, new HttpLambdaIntegration('IamApiIntegration', this.apiFunction.function));

    // Both are invoked synchronously by API Gateway, which answers the client with any error.
    for (const fn of [this.apiFunction, this.authorizerFunction]) {
      Validations.of(fn.function).acknowledge({
        id: 'HIPAA.Security-LambdaDLQ',
        reason:
          'API Gateway invokes this function synchronously and returns any error to the client; a ' +
          'dead-letter queue receives only failed asynchronous invocations, so it would stay empty.',
      });
      Validations.of(fn.function).acknowledge({
        id: 'HIPAA.Security-LambdaConcurrency',
        reason:
          "Each API stage's route throttling (rate and burst) bounds the requests reaching it; reserved " +
          "concurrency would carve capacity out of the account's shared pool, and a deployment fails " +
          'outright in an account whose quota leaves less than the minimum unreserved (new accounts).',
      });
    }
  }

  /** The base URL clients use with API tokens (`KEEPTRUSTS_API_URL`), ending in `/`. */
  get url(): string {
    return this.stage.url;
  }

  /** The base URL of the IAM-authorised API (SigV4-signed requests), ending in `/`. */
  get iamUrl(): string {
    return this.iamStage.url;
  }

  /**
   * Lets `grantee` call `routes` of the IAM API: `execute-api:Invoke` on each route's ARN on the
   * IAM API's `$default` stage, with each path parameter as `*` (`GET /v1/exports/{id}` becomes
   * `.../$default/GET/v1/exports/*`). The route keys are those of the API router
   * (API_ROUTE_KEYS); a key it does not have is an error, so a grant can never name a route that
   * does not exist.
   *
   * IAM's `*` also matches `/`, so a route ending in a parameter also covers the router's routes
   * below it with the same method: `GET /v1/exports/{id}` covers `GET /v1/exports/{id}/download`
   * and `/manifest` as well. The API Lambda still applies its own rules to the caller.
   */
  grantInvoke(grantee: iam.IGrantable, ...routes: ApiRouteKey[]): iam.Grant {
    if (routes.length === 0) {
      throw new Error('grantInvoke needs at least one route, e.g. "GET /v1/exports/{id}"');
    }
    const unknown = routes.filter((route) => !API_ROUTE_KEYS.includes(route));
    if (unknown.length > 0) {
      throw new Error(
        `grantInvoke: no such route: ${unknown.join(', ')} (routes: ${API_ROUTE_KEYS.join(', ')})`,
      );
    }
    const resources = [...new Set(routes)].map((route) => {
      const [method, template] = route.split(' ') as [string, string];
      const path = invokePath(template);
      return { route, method, path, arn: this.iamHttpApi.arnForExecuteApi(method, path, '$default') };
    });
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: resources.map((resource) => resource.arn),
    });
    const principal: unknown = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      const acknowledged = this.invokeWildcardsAcknowledged.get(principal) ?? new Set<string>();
      this.invokeWildcardsAcknowledged.set(principal, acknowledged);
      const apiId = Stack.of(this).resolve((this.iamHttpApi.node.defaultChild as CfnElement).logicalId);
      for (const { route, method, path } of resources) {
        // How cdk-nag prints the ARN (tokens as <...>), for grantees in this stack.
        const arn = `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${String(apiId)}>`;
        const finding = `${arn}/$default/${method}${path}`;
        if (!path.includes('*') || acknowledged.has(finding)) continue;
        acknowledged.add(finding);
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${finding}]`,
          reason:
            `The route ${route} takes its path parameters at run time, so they are "*" in the route's ` +
            'execute-api ARN; the wildcard is confined to that method and route of the IAM API, on its ' +
            'one stage.',
        });
      }
    }
    return grant;
  }
}

/** Both APIs' routes (API_GATEWAY_ROUTES), all to `integration`. */
function addRoutes(api: apigwv2.HttpApi, integration: HttpLambdaIntegration): void {
  for (const { path, method } of API_GATEWAY_ROUTES) {
    api.addRoutes({ path, methods: [method], integration });
  }
}

/** The path part of a route's execute-api ARN: each `{parameter}` is `*`. */
function invokePath(path: string): string {
  return path.replace(/\{[^}]+\}/g, '*');
}

/** The defaults with the caller's values over them, checked as API Gateway would. */
function throttleSettings(throttle: apigwv2.ThrottleSettings | undefined): apigwv2.ThrottleSettings {
  const settings = { ...DEFAULT_THROTTLE, ...throttle };
  const { rateLimit, burstLimit } = settings;
  if (rateLimit === undefined || !Number.isFinite(rateLimit) || rateLimit < 0) {
    throw new Error(
      `throttle.rateLimit must be a number of requests per second of 0 or more, not ${rateLimit}`,
    );
  }
  if (burstLimit === undefined || !Number.isSafeInteger(burstLimit) || burstLimit < 0) {
    throw new Error(`throttle.burstLimit must be a whole number of 0 or more, not ${burstLimit}`);
  }
  return settings;
}
