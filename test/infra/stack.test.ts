import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import {
  DECISION_EVENTS_TABLE,
  EXPORT_CONTROL_TABLE,
  type TableLayout,
} from '../../functions/adapters/dynamodb/tables.ts';
import type { ArtifactRetention } from '../../functions/core/export/artifact-retention.ts';
import { ROUTES } from '../../functions/handlers/api.ts';
import { API_GATEWAY_ROUTES, API_ROUTE_KEYS, type ApiRouteKey } from '../../infra/constructs/api.ts';
import { KeeptrustsExportStack } from '../../infra/stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** CDK assertions on the synthesized template, with asset bundling skipped (fast, no esbuild). */
describe('KeeptrustsExportStack', () => {
  let template: Template;
  let outdir: string;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'kt-infra-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    template = Template.fromStack(new KeeptrustsExportStack(app, 'Test'));
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const resources = (type: string): [string, Resource][] =>
    Object.entries(template.findResources(type) as Record<string, Resource>);

  /** The symmetric key that encrypts data (another encrypts logs, a third signs evidence). */
  const keyDescribed = (words: string): string => {
    const found = resources('AWS::KMS::Key').filter(([, key]) => String(key.Properties.Description).includes(words));
    expect(found).toHaveLength(1);
    return found[0]![0];
  };
  const dataKeyId = (): string => keyDescribed('decision events, export control data and artifacts');
  const logKeyId = (): string => keyDescribed('CloudWatch Logs');

  const tableWithIndex = (indexName: string): [string, Resource] => {
    const found = resources('AWS::DynamoDB::Table').filter(([, table]) =>
      ((table.Properties.GlobalSecondaryIndexes ?? []) as { IndexName: string }[]).some(
        (index) => index.IndexName === indexName,
      ),
    );
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  /** The CloudFormation shape a layout from functions/adapters/dynamodb/tables.ts must produce. */
  const expectedKeys = (layout: TableLayout) => {
    const attributes = new Map<string, string>();
    for (const key of [
      layout.partitionKey,
      layout.sortKey,
      ...layout.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
    ]) {
      attributes.set(key.name, key.type);
    }
    return {
      KeySchema: [
        { AttributeName: layout.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: layout.sortKey.name, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
        AttributeName,
        AttributeType,
      })),
      GlobalSecondaryIndexes: layout.indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    };
  };

  describe.each([
    ['DecisionEvents', DECISION_EVENTS_TABLE],
    ['ExportControl', EXPORT_CONTROL_TABLE],
  ])('%s table', (_name, layout) => {
    const firstIndex = layout.indexes[0]!.indexName;

    it('has exactly the keys and GSIs of its layout (projection ALL)', () => {
      const [, table] = tableWithIndex(firstIndex);
      const expected = expectedKeys(layout);
      expect(table.Properties.KeySchema).toEqual(expected.KeySchema);
      expect(table.Properties.AttributeDefinitions).toEqual(
        expect.arrayContaining(expected.AttributeDefinitions),
      );
      expect(table.Properties.AttributeDefinitions).toHaveLength(expected.AttributeDefinitions.length);
      expect(table.Properties.GlobalSecondaryIndexes).toEqual(expected.GlobalSecondaryIndexes);
    });

    it('is on-demand, with PITR, KMS encryption under the stack key and deletion protection', () => {
      const [, table] = tableWithIndex(firstIndex);
      const keyId = dataKeyId();
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        },
        DeletionProtectionEnabled: true,
      });
      expect(table.DeletionPolicy).toBe('Retain');
    });
  });

  it('has one rotated, retained customer-managed data key (and the log key and the signing key)', () => {
    template.resourceCountIs('AWS::KMS::Key', 3);
    for (const id of [dataKeyId(), logKeyId()]) {
      const key = template.toJSON().Resources[id] as Resource;
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(key.DeletionPolicy).toBe('Retain');
    }
  });

  describe('backups (AWS Backup)', () => {
    it('backs both tables up daily into a retained vault under the data key, kept 35 days', () => {
      const [vaultId, vault] = resources('AWS::Backup::BackupVault')[0]!;
      expect(resources('AWS::Backup::BackupVault')).toHaveLength(1);
      expect(vault.Properties.EncryptionKeyArn).toEqual({ 'Fn::GetAtt': [dataKeyId(), 'Arn'] });
      expect(vault.DeletionPolicy).toBe('Retain');
      // No one may delete a recovery point, or change its lifecycle, before its time.
      expect(JSON.stringify(vault.Properties.AccessPolicy)).toContain('backup:DeleteRecoveryPoint');
      template.hasResourceProperties('AWS::Backup::BackupPlan', {
        BackupPlan: {
          BackupPlanRule: [
            Match.objectLike({
              TargetBackupVault: { 'Fn::GetAtt': [vaultId, 'BackupVaultName'] },
              ScheduleExpression: 'cron(0 3 * * ? *)',
              Lifecycle: { DeleteAfterDays: 35 },
            }),
          ],
        },
      });
      const [, selection] = resources('AWS::Backup::BackupSelection')[0]!;
      expect(resources('AWS::Backup::BackupSelection')).toHaveLength(1);
      expect((selection.Properties.BackupSelection as { Resources: unknown[] }).Resources).toEqual([
        { 'Fn::GetAtt': [tableWithIndex('byTeam')[0], 'Arn'] },
        { 'Fn::GetAtt': [tableWithIndex('gsi1')[0], 'Arn'] },
      ]);
    });

    it('keeps backups as long as `backupRetention` says', () => {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const kept = Template.fromStack(
        new KeeptrustsExportStack(app, 'LongBackups', { data: { backupRetention: Duration.days(400) } }),
      );
      kept.hasResourceProperties('AWS::Backup::BackupPlan', {
        BackupPlan: { BackupPlanRule: [Match.objectLike({ Lifecycle: { DeleteAfterDays: 400 } })] },
      });
    });
  });

  describe('artifact bucket', () => {
    const artifactBucket = (): [string, Resource] => {
      const found = resources('AWS::S3::Bucket').filter(([, bucket]) =>
        JSON.stringify(bucket.Properties.BucketEncryption).includes('aws:kms'),
      );
      expect(found).toHaveLength(1);
      return found[0]!;
    };

    it('is KMS-encrypted with a bucket key, private, versioned and retained', () => {
      const [, bucket] = artifactBucket();
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      expect(bucket.DeletionPolicy).toBe('Retain');
    });

    it('aborts incomplete multipart uploads after one day', () => {
      const [, bucket] = artifactBucket();
      expect(bucket.Properties.LifecycleConfiguration).toEqual({
        Rules: expect.arrayContaining([
          expect.objectContaining({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          }),
        ]),
      });
    });

    it('writes server access logs to a separate, private, SSL-only logs bucket', () => {
      const [, bucket] = artifactBucket();
      const logging = bucket.Properties.LoggingConfiguration as { DestinationBucketName: { Ref: string } };
      const logsBucketId = logging.DestinationBucketName.Ref;
      const logsBucket = template.toJSON().Resources[logsBucketId] as Resource;
      expect(logsBucket.Type).toBe('AWS::S3::Bucket');
      expect(logsBucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true },
      });
      // Delivery by bucket policy for the logging service, not by ACL.
      expect(logsBucket.Properties.AccessControl).toBeUndefined();
      // A log deleted by hand stays recoverable for 30 days.
      expect(logsBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(logsBucket.Properties.LifecycleConfiguration).toEqual({
        Rules: expect.arrayContaining([
          expect.objectContaining({
            ExpirationInDays: 365,
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            Status: 'Enabled',
          }),
          expect.objectContaining({ ExpiredObjectDeleteMarker: true, Status: 'Enabled' }),
        ]),
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logsBucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
            }),
          ]),
        },
      });
    });

    it('every bucket policy denies requests without TLS', () => {
      expect(resources('AWS::S3::Bucket')).toHaveLength(2);
      for (const [bucketId] of resources('AWS::S3::Bucket')) {
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: bucketId },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });
  });

  describe('HTTP APIs (token and IAM)', () => {
    const apis = () => {
      const all = resources('AWS::ApiGatewayV2::Api');
      expect(all).toHaveLength(2);
      const iamApi = all.find(([, api]) => String(api.Properties.Description).includes('IAM'))!;
      const tokenApi = all.find(([id]) => id !== iamApi[0])!;
      return { tokenApiId: tokenApi[0], iamApiId: iamApi[0] };
    };
    const routesOf = (apiId: string) =>
      resources('AWS::ApiGatewayV2::Route')
        .map(([, route]) => route.Properties)
        .filter((route) => JSON.stringify(route.ApiId) === JSON.stringify({ Ref: apiId }));
    const stageOf = (apiId: string) => {
      const found = resources('AWS::ApiGatewayV2::Stage').filter(
        ([, stage]) => JSON.stringify(stage.Properties.ApiId) === JSON.stringify({ Ref: apiId }),
      );
      expect(found).toHaveLength(1);
      return found[0]![1];
    };
    const apiFunctionId = () =>
      resources('AWS::Lambda::Function').find(([, fn]) => String(fn.Properties.Description).includes('HTTP API'))![0];

    it('has a REQUEST authorizer with simple responses keyed on Authorization, cached 5 minutes', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        ApiId: { Ref: apis().tokenApiId },
        AuthorizerType: 'REQUEST',
        EnableSimpleResponses: true,
        AuthorizerPayloadFormatVersion: '2.0',
        IdentitySource: ['$request.header.Authorization'],
        AuthorizerResultTtlInSeconds: 300,
      });
    });

    it('routes POST /v1/events and ANY /v1/{proxy+} on the token API, every route behind the authorizer', () => {
      const authorizerId = resources('AWS::ApiGatewayV2::Authorizer')[0]![0];
      const routes = routesOf(apis().tokenApiId);
      expect(routes.map((route) => route.RouteKey).sort()).toEqual(['ANY /v1/{proxy+}', 'POST /v1/events']);
      for (const route of routes) {
        expect(route).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
      }
    });

    it('routes the same keys on the IAM API (one list, API_GATEWAY_ROUTES), every route with AWS_IAM', () => {
      const routes = routesOf(apis().iamApiId);
      expect(routes.map((route) => route.RouteKey).sort()).toEqual(
        routesOf(apis().tokenApiId)
          .map((route) => route.RouteKey)
          .sort(),
      );
      expect(routes.map((route) => route.RouteKey).sort()).toEqual(
        API_GATEWAY_ROUTES.map(({ method, path }) => `${method} ${path}`).sort(),
      );
      for (const route of routes) {
        expect(route.AuthorizationType).toBe('AWS_IAM');
        expect(route.AuthorizerId).toBeUndefined();
      }
    });

    it('sends every route of both APIs to the api function (one integration per API)', () => {
      const integrations = resources('AWS::ApiGatewayV2::Integration');
      expect(integrations.map(([, i]) => i.Properties.ApiId)).toEqual(
        expect.arrayContaining([{ Ref: apis().tokenApiId }, { Ref: apis().iamApiId }]),
      );
      expect(integrations).toHaveLength(2);
      for (const [, integration] of integrations) {
        expect(integration.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: { 'Fn::GetAtt': [apiFunctionId(), 'Arn'] },
        });
      }
    });

    it.each(['token', 'IAM'] as const)(
      'logs %s API access as JSON to its own encrypted log group and throttles its stage by default',
      (which) => {
        const { tokenApiId, iamApiId } = apis();
        const stage = stageOf(which === 'IAM' ? iamApiId : tokenApiId);
        expect(stage.Properties).toMatchObject({
          StageName: '$default',
          AutoDeploy: true,
          AccessLogSettings: {
            DestinationArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
            Format: expect.stringContaining('"requestId":"$context.requestId"'),
          },
          DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
        });
        const settings = stage.Properties.AccessLogSettings as { Format: string; DestinationArn: unknown };
        const format = JSON.parse(settings.Format) as Record<string, string>;
        expect(JSON.stringify(format)).not.toMatch(/authorization|signature/i);
        // The IAM API also logs who signed (account and ARN).
        if (which === 'IAM') expect(format).toMatchObject({ callerArn: '$context.identity.userArn' });
        else expect(format.callerArn).toBeUndefined();
        const groupId = (settings.DestinationArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
        const group = template.toJSON().Resources[groupId] as Resource;
        expect(group.Properties).toMatchObject({
          RetentionInDays: 365,
          KmsKeyId: { 'Fn::GetAtt': [logKeyId(), 'Arn'] },
        });
      },
    );

    it('throttles both stages as the `throttle` prop says; a value left out keeps its default', () => {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const throttled = Template.fromStack(
        new KeeptrustsExportStack(app, 'Throttled', { api: { throttle: { rateLimit: 25 } } }),
      );
      const stages = Object.values(throttled.findResources('AWS::ApiGatewayV2::Stage') as Record<string, Resource>);
      expect(stages).toHaveLength(2);
      for (const stage of stages) {
        expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 25, ThrottlingBurstLimit: 200 });
      }
    });

    it.each([
      [{ rateLimit: -1 }, /throttle.rateLimit must be a number of requests per second of 0 or more, not -1/],
      [{ burstLimit: 2.5 }, /throttle.burstLimit must be a whole number of 0 or more, not 2.5/],
    ])('refuses the throttle %j', (throttle, message) => {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      expect(() => new KeeptrustsExportStack(app, 'BadThrottle', { api: { throttle } })).toThrow(message);
    });

    describe('grantInvoke', () => {
      const granted = (...routes: ApiRouteKey[]) => {
        const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
        const stack = new KeeptrustsExportStack(app, 'Granted');
        const role = new iam.Role(stack, 'Automation', { assumedBy: new iam.AccountRootPrincipal() });
        stack.api.grantInvoke(role, ...routes);
        const json = Template.fromStack(stack).toJSON();
        const [policy] = Object.values(json.Resources as Record<string, Resource>).filter(
          (r) =>
            r.Type === 'AWS::IAM::Policy' &&
            JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: stack.getLogicalId(role.node.defaultChild as CfnRole) }]),
        );
        const iamApiId = Object.entries(json.Resources as Record<string, Resource>).find(
          ([, r]) => r.Type === 'AWS::ApiGatewayV2::Api' && String(r.Properties.Description).includes('IAM'),
        )![0];
        return { statements: (policy!.Properties.PolicyDocument as { Statement: Statement[] }).Statement, iamApiId };
      };
      const routeArn = (iamApiId: string, tail: string) => ({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':execute-api:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':',
            { Ref: iamApiId },
            tail,
          ],
        ],
      });

      it('allows execute-api:Invoke on exactly the named routes of the IAM API stage, parameters as *', () => {
        const { statements, iamApiId } = granted('GET /v1/exports/{id}/download', 'POST /v1/exports');
        expect(statements).toEqual([
          {
            Effect: 'Allow',
            Action: 'execute-api:Invoke',
            Resource: [
              routeArn(iamApiId, '/$default/GET/v1/exports/*/download'),
              routeArn(iamApiId, '/$default/POST/v1/exports'),
            ],
          },
        ]);
      });

      it('knows every route of the API router, and refuses a route it does not have', () => {
        expect(API_ROUTE_KEYS).toEqual(ROUTES.map((route) => `${route.method} ${route.path}`));
        expect(API_ROUTE_KEYS).toContain('GET /v1/exports/{id}');
        expect(() => granted('GET /v1/exprots/{id}' as ApiRouteKey)).toThrow(
          /grantInvoke: no such route: GET \/v1\/exprots\/\{id\}/,
        );
        expect(() => granted()).toThrow(/grantInvoke needs at least one route/);
      });
    });
  });

  describe('Lambda functions', () => {
    it('are exactly the api, authorizer, scheduled and seven workflow step functions (no hidden helper functions)', () => {
      const descriptions = resources('AWS::Lambda::Function').map(([, fn]) =>
        String(fn.Properties.Description),
      );
      expect(descriptions.sort()).toEqual(
        [
          'Keeptrusts Export: API token authorizer',
          'Keeptrusts Export: HTTP API (/v1 router)',
          'Keeptrusts Export: scheduled export runs (EventBridge Scheduler target)',
          ...['Prepare', 'ExportPage', 'RenderReport', 'Finalize', 'Deliver', 'RecordAudit', 'MarkFailed'].map(
            (step) => `Keeptrusts Export: workflow step ${step}`,
          ),
        ].sort(),
      );
    });

    it('run nodejs24.x on arm64 with active tracing, JSON logs to their own log group, and the environment', () => {
      for (const [, fn] of resources('AWS::Lambda::Function')) {
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
          Environment: {
            Variables: {
              EVENTS_TABLE: { Ref: tableWithIndex('byTeam')[0] },
              CONTROL_TABLE: { Ref: tableWithIndex('gsi1')[0] },
              ARTIFACT_BUCKET: { Ref: expect.any(String) },
              POWERTOOLS_SERVICE_NAME: 'keeptrusts-export',
              // Source maps everywhere; ExportPage adds its V8 heap limits (test/infra/workflow.test.ts).
              NODE_OPTIONS: expect.stringMatching(/^--enable-source-maps( |$)/),
            },
          },
        });
      }
    });

    it('log to groups with a retention, encrypted with the log key', () => {
      const groups = resources('AWS::Logs::LogGroup');
      expect(groups).toHaveLength(13); // ten functions + both APIs' access logs + state machine
      for (const [, group] of groups) {
        expect(group.Properties.RetentionInDays).toBe(365);
        expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [logKeyId(), 'Arn'] });
        expect(group.DeletionPolicy).toBe('Retain');
      }
    });

    it('have a log key that CloudWatch Logs of this account and Region alone may use', () => {
      const key = template.toJSON().Resources[logKeyId()] as Resource;
      const statements = (key.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
      const forLogs = statements.filter((st) => JSON.stringify(st.Principal).includes('logs.'));
      expect(forLogs).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
          Resource: '*',
          Condition: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':logs:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    ':log-group:*',
                  ],
                ],
              },
            },
          },
        }),
      ]);
    });
  });

  describe('IAM', () => {
    const allStatements = (): { owner: string; statement: Statement }[] => {
      const out: { owner: string; statement: Statement }[] = [];
      for (const [id, policy] of resources('AWS::IAM::Policy')) {
        for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
          out.push({ owner: id, statement });
        }
      }
      for (const [id, role] of resources('AWS::IAM::Role')) {
        for (const inline of (role.Properties.Policies ?? []) as {
          PolicyDocument: { Statement: Statement[] };
        }[]) {
          for (const statement of inline.PolicyDocument.Statement) out.push({ owner: id, statement });
        }
      }
      return out;
    };

    it('has no "*" action on "*" resources, and on "*" only X-Ray (and log delivery for the state machine)', () => {
      const statesRoles = resources('AWS::IAM::Role')
        .filter(([, role]) =>
          JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('states.amazonaws.com'),
        )
        .map(([id]) => id);
      expect(statesRoles).toHaveLength(1);
      const statesPolicies = new Set(
        resources('AWS::IAM::Policy')
          .filter(([, p]) =>
            (p.Properties.Roles as { Ref: string }[]).some((r) => statesRoles.includes(r.Ref)),
          )
          .map(([id]) => id),
      );
      const statements = allStatements();
      expect(statements.length).toBeGreaterThan(0);
      for (const { owner, statement } of statements.filter(({ statement }) => statement.Effect === 'Allow')) {
        const actions = asArray(statement.Action);
        expect(actions.every((action) => !action.includes('*'))).toBe(true);
        if (!asArray(statement.Resource).includes('*')) continue;
        if (statesPolicies.has(owner)) {
          // Vended log delivery and X-Ray sampling have no resource-level permissions.
          for (const action of actions)
            expect(action).toMatch(
              /^(logs:[A-Za-z]+(LogDelivery|LogDeliveries|ResourcePolic(y|ies)|LogGroups)|xray:[A-Za-z]+)$/,
            );
        } else {
          expect([...actions].sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        }
      }
    });

    it("attaches no AWS managed policies, but AWS Backup's service-role policy to the backup role", () => {
      const withManaged = resources('AWS::IAM::Role').filter(([, role]) => role.Properties.ManagedPolicyArns);
      expect(withManaged).toHaveLength(1);
      const [, backupRole] = withManaged[0]!;
      expect(JSON.stringify(backupRole.Properties.AssumeRolePolicyDocument)).toContain('backup.amazonaws.com');
      expect(JSON.stringify(backupRole.Properties.ManagedPolicyArns)).toBe(
        JSON.stringify([
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup'],
            ],
          },
        ]),
      );
    });

    // Each function's exact policy: test/infra/least-privilege.test.ts.

    it('grants the tables and their named indexes (no index wildcard), and never Scan', () => {
      const json = JSON.stringify(template.findResources('AWS::IAM::Policy'));
      expect(json).not.toContain('/index/*');
      expect(json).not.toContain('dynamodb:Scan');
      for (const index of [...DECISION_EVENTS_TABLE.indexes, ...EXPORT_CONTROL_TABLE.indexes]) {
        expect(json).toContain(`/index/${index.indexName}`);
      }
    });
  });

  describe('evidence signing key', () => {
    const signingKeyId = (): string => {
      const found = resources('AWS::KMS::Key').filter(([, key]) => key.Properties.KeySpec !== undefined);
      expect(found).toHaveLength(1);
      return found[0]![0];
    };

    /** The descriptions of the roles whose policies allow `action`, and the resources they name. */
    const holdersOf = (action: string): { roles: string[]; resources: unknown[] } => {
      const roles = new Set<string>();
      const named: unknown[] = [];
      for (const [, policy] of resources('AWS::IAM::Policy')) {
        for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
          if (statement.Effect !== 'Allow' || !asArray(statement.Action).includes(action)) continue;
          named.push(...asArray(statement.Resource));
          for (const { Ref } of policy.Properties.Roles as { Ref: string }[]) {
            const role = template.toJSON().Resources[Ref] as Resource;
            roles.add(String(role.Properties.Description).replace('Execution role: Keeptrusts Export: ', ''));
          }
        }
      }
      return { roles: [...roles].sort(), resources: named };
    };

    it('is an ECC_NIST_P256 SIGN_VERIFY key, retained with the stack', () => {
      const key = template.toJSON().Resources[signingKeyId()] as Resource;
      expect(key.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
      expect(key.Properties.EnableKeyRotation).toBeUndefined();
      expect(key.DeletionPolicy).toBe('Retain');
    });

    it('may be used to sign only by Finalize and the functions that append to the audit trail', () => {
      const sign = holdersOf('kms:Sign');
      expect(sign.roles).toEqual([
        'HTTP API (/v1 router)',
        'scheduled export runs (EventBridge Scheduler target)',
        'workflow step Deliver',
        'workflow step Finalize',
        'workflow step MarkFailed',
        'workflow step RecordAudit',
      ]);
      for (const resource of sign.resources)
        expect(resource).toEqual({ 'Fn::GetAtt': [signingKeyId(), 'Arn'] });
    });

    it('gives its public key only to the API function', () => {
      const read = holdersOf('kms:GetPublicKey');
      expect(read.roles).toEqual(['HTTP API (/v1 router)']);
      expect(read.resources).toEqual([{ 'Fn::GetAtt': [signingKeyId(), 'Arn'] }]);
    });

    it('is SIGNING_KEY_ID exactly where it is used', () => {
      const withKey = resources('AWS::Lambda::Function')
        .filter(
          ([, fn]) =>
            (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.SIGNING_KEY_ID,
        )
        .map(([, fn]) => String(fn.Properties.Description).replace('Keeptrusts Export: ', ''))
        .sort();
      expect(withKey).toEqual(holdersOf('kms:Sign').roles);
      template.hasOutput('SigningKeyArn', { Value: { 'Fn::GetAtt': [signingKeyId(), 'Arn'] } });
    });

    it('keeps retired keys readable by the API, so evidence they signed still verifies', () => {
      const retired = 'arn:aws:kms:eu-west-1:123456789012:key/0b7d4c1e-5a8f-4e2b-9c3d-6f1a2b3c4d5e';
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new KeeptrustsExportStack(app, 'Rotated', { signing: { retiredKeyArns: [retired] } });
      const rotated = Template.fromStack(stack);
      rotated.hasResourceProperties('AWS::Lambda::Function', {
        Description: 'Keeptrusts Export: HTTP API (/v1 router)',
        Environment: { Variables: Match.objectLike({ SIGNING_KEY_IDS_RETIRED: retired }) },
      });
      rotated.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: retired }]),
        },
      });
      // Nothing signs with a retired key.
      const signOn = Object.values(rotated.findResources('AWS::IAM::Policy') as Record<string, Resource>)
        .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .filter((statement) => asArray(statement.Action).includes('kms:Sign'))
        .flatMap((statement) => asArray(statement.Resource));
      expect(signOn.length).toBeGreaterThan(0);
      expect(signOn).not.toContainEqual(retired);
    });
  });

  describe('artifact retention (S3 Object Lock)', () => {
    const withRetention = (id: string, artifactRetention: ArtifactRetention): Template => {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      return Template.fromStack(new KeeptrustsExportStack(app, id, { data: { artifactRetention } }));
    };
    const kmsBuckets = (from: Template): Resource[] =>
      Object.values(from.findResources('AWS::S3::Bucket') as Record<string, Resource>).filter((bucket) =>
        JSON.stringify(bucket.Properties.BucketEncryption).includes('aws:kms'),
      );
    const apiVariables = (from: Template): Record<string, unknown> => {
      const api = Object.values(
        from.findResources('AWS::Lambda::Function') as Record<string, Resource>,
      ).filter((fn) => String(fn.Properties.Description).includes('HTTP API'));
      expect(api).toHaveLength(1);
      return (api[0]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    };

    it('is off by default: no Object Lock on any bucket, no retention in any function', () => {
      for (const [, bucket] of resources('AWS::S3::Bucket')) {
        expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
        expect(bucket.Properties.ObjectLockConfiguration).toBeUndefined();
      }
      for (const [, fn] of resources('AWS::Lambda::Function')) {
        const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(Object.keys(variables).filter((name) => name.startsWith('ARTIFACT_RETENTION'))).toEqual([]);
      }
    });

    it.each([
      ['Governance', { mode: 'GOVERNANCE', days: 90 }],
      ['Compliance', { mode: 'COMPLIANCE', days: 2555 }],
    ] as const)('%s: locks the versioned artifact bucket by default and tells the API', (id, retention) => {
      const locked = withRetention(id, retention);
      const [bucket] = kmsBuckets(locked);
      expect(bucket!.Properties).toMatchObject({
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: retention.mode, Days: retention.days } },
        },
        VersioningConfiguration: { Status: 'Enabled' },
      });
      // Only the artifact bucket: access logs cannot be delivered to an Object Lock bucket.
      const others = Object.values(
        locked.findResources('AWS::S3::Bucket') as Record<string, Resource>,
      ).filter((other) => other !== bucket);
      for (const other of others) expect(other.Properties.ObjectLockEnabled).toBeUndefined();
      expect(apiVariables(locked)).toMatchObject({
        ARTIFACT_RETENTION_MODE: retention.mode,
        ARTIFACT_RETENTION_DAYS: String(retention.days),
      });
    });

    it('refuses a retention S3 would not accept', () => {
      expect(() => withRetention('Zero', { mode: 'COMPLIANCE', days: 0 })).toThrow(
        /artifactRetention.days must be a whole number from 1 to 36500/,
      );
    });
  });

  it('outputs both API URLs, the state machine ARN, both table names and the bucket name', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.IamApiUrl!.Value)).toContain(
      `"Ref":"${resources('AWS::ApiGatewayV2::Api').find(([, api]) => String(api.Properties.Description).includes('IAM'))![0]}"`,
    );
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiUrl',
      'ArtifactBucketName',
      'ControlTableName',
      'EventsTableName',
      'IamApiUrl',
      'ScheduleDeadLetterQueueUrl',
      'ScheduleGroupName',
      'SigningKeyArn',
      'StateMachineArn',
    ]);
  });
});
