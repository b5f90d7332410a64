import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  DECISION_EVENTS_TABLE,
  EXPORT_CONTROL_TABLE,
  type TableLayout,
} from '../../functions/adapters/dynamodb/tables.ts';
import type { ArtifactRetention } from '../../functions/core/export/artifact-retention.ts';
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

  /** The symmetric key that encrypts data (the other key signs evidence). */
  const dataKeyId = (): string => {
    const found = resources('AWS::KMS::Key').filter(([, key]) => key.Properties.KeySpec === undefined);
    expect(found).toHaveLength(1);
    return found[0]![0];
  };

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

  it('has one rotated, retained customer-managed data key (and the signing key)', () => {
    template.resourceCountIs('AWS::KMS::Key', 2);
    const key = template.toJSON().Resources[dataKeyId()] as Resource;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
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

  describe('HTTP API', () => {
    it('has a REQUEST authorizer with simple responses keyed on Authorization, cached 5 minutes', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'REQUEST',
        EnableSimpleResponses: true,
        AuthorizerPayloadFormatVersion: '2.0',
        IdentitySource: ['$request.header.Authorization'],
        AuthorizerResultTtlInSeconds: 300,
      });
    });

    it('routes POST /v1/events and ANY /v1/{proxy+}, every route behind the authorizer', () => {
      const authorizerId = resources('AWS::ApiGatewayV2::Authorizer')[0]![0];
      const routes = resources('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties);
      expect(routes.map((route) => route.RouteKey).sort()).toEqual(['ANY /v1/{proxy+}', 'POST /v1/events']);
      for (const route of routes) {
        expect(route).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
      }
    });

    it('sends both routes to the api function', () => {
      const apiFunctionId = resources('AWS::Lambda::Function').find(([, fn]) =>
        String(fn.Properties.Description).includes('HTTP API'),
      )![0];
      template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [apiFunctionId, 'Arn'] },
      });
    });

    it('logs access as JSON to a log group with retention and throttles the stage', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        AccessLogSettings: {
          DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
          Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
        },
        DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      });
      const stage = resources('AWS::ApiGatewayV2::Stage')[0]![1];
      const format = JSON.parse(String((stage.Properties.AccessLogSettings as { Format: string }).Format));
      expect(JSON.stringify(format)).not.toMatch(/authorization/i);
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

    it('log to groups with a retention', () => {
      const groups = resources('AWS::Logs::LogGroup');
      expect(groups).toHaveLength(12); // ten functions + API access logs + state machine
      for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(365);
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

    it('attaches no AWS managed policies', () => {
      for (const [, role] of resources('AWS::IAM::Role'))
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it('lets the authorizer only GetItem on the control table (and decrypt with the key)', () => {
      const authorizerRole = resources('AWS::IAM::Role').find(([, role]) =>
        String(role.Properties.Description).includes('authorizer'),
      )![0];
      const [, policy] = resources('AWS::IAM::Policy').find(([, p]) =>
        (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === authorizerRole),
      )!;
      const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
      const dynamo = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo).toEqual([
        {
          Effect: 'Allow',
          Action: 'dynamodb:GetItem',
          Resource: { 'Fn::GetAtt': [tableWithIndex('gsi1')[0], 'Arn'] },
        },
      ]);
      const actions = statements.flatMap((s) => asArray(s.Action)).sort();
      expect(actions).toEqual([
        'dynamodb:GetItem',
        'kms:Decrypt',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    });

    it('grants the api function both tables with their named indexes (no index wildcard) and no Scan', () => {
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

  it('outputs the API URL, the state machine ARN, both table names and the bucket name', () => {
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiUrl',
      'ArtifactBucketName',
      'ControlTableName',
      'EventsTableName',
      'ScheduleDeadLetterQueueUrl',
      'ScheduleGroupName',
      'SigningKeyArn',
      'StateMachineArn',
    ]);
  });
});
