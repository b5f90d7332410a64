import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  EXPORT_PAGE_NODE_OPTIONS,
  WORKFLOW_FUNCTION_TIMEOUTS,
  WORKFLOW_STATE_NAMES,
  WORKFLOW_STEPS,
  type WorkflowStep,
} from '../../infra/constructs/workflow-definition.ts';
import { localFunctionArn, renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { KeeptrustsExportStack } from '../../infra/stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const TABLE_WRITE = [
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];
/** What the control table grant brings on the key, and what an SSE-KMS multipart upload needs. */
const KEY_READ_WRITE = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'];
const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

/** CDK assertions on the export workflow in the synthesized stack (bundling skipped). */
describe('ExportWorkflow in KeeptrustsExportStack', () => {
  let template: Template;
  let stack: KeeptrustsExportStack;
  let outdir: string;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'kt-infra-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new KeeptrustsExportStack(app, 'Test');
    template = Template.fromStack(stack);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const resources = (type: string): [string, Resource][] =>
    Object.entries(template.findResources(type) as Record<string, Resource>);
  const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
    stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;

  const stateMachineId = () => resources('AWS::StepFunctions::StateMachine')[0]![0];
  const functionId = (step: WorkflowStep) => logicalId(stack.workflow.functions[step].function);
  const roleId = (step: WorkflowStep | 'api') =>
    logicalId(step === 'api' ? stack.api.apiFunction.role : stack.workflow.functions[step].role);

  /** Every Allow statement of the role's policies (inline and attached). */
  const statementsOf = (role: string): Statement[] => {
    const out: Statement[] = [];
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      if ((policy.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role)) {
        out.push(...(policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
      }
    }
    const inline = (template.toJSON().Resources[role] as Resource).Properties.Policies as
      | { PolicyDocument: { Statement: Statement[] } }[]
      | undefined;
    for (const policy of inline ?? []) out.push(...policy.PolicyDocument.Statement);
    return out.filter((statement) => statement.Effect === 'Allow');
  };

  /** What a role may do, by kind of resource (statements merged by CDK are split apart again). */
  const permissionsOf = (role: string): Record<string, string[]> => {
    const ids = {
      events: logicalId(stack.data.eventsTable),
      control: logicalId(stack.data.controlTable),
      bucket: logicalId(stack.data.artifactBucket),
      key: logicalId(stack.data.encryptionKey as never),
      signingKey: logicalId(stack.signingKey.key),
      stateMachine: stateMachineId(),
    };
    const kindOf = (resource: unknown): string => {
      const json = JSON.stringify(resource);
      if (resource === '*') return '*';
      if (json.includes(ids.events)) return 'events';
      if (json.includes(ids.control)) return 'control';
      if (json.includes(ids.bucket) && json.includes('/audit/checkpoints/*')) return 'checkpoints';
      if (json.includes(ids.bucket)) return json.includes('/*') ? 'objects' : 'bucket';
      if (json.includes(ids.signingKey)) return 'signingKey';
      if (json.includes(ids.key)) return 'key';
      if (json.includes(ids.stateMachine)) return 'stateMachine';
      if (json.includes('LogGroup')) return 'logs';
      if (json.includes('SchedulerRole')) return 'schedulerRole';
      if (json.includes(':scheduler:')) return 'schedules';
      return json;
    };
    const out: Record<string, Set<string>> = {};
    for (const statement of statementsOf(role)) {
      for (const resource of asArray(statement.Resource)) {
        const kind = kindOf(resource);
        out[kind] ??= new Set();
        for (const action of asArray(statement.Action)) out[kind].add(action);
      }
    }
    return Object.fromEntries(Object.entries(out).map(([kind, actions]) => [kind, [...actions].sort()]));
  };

  describe('state machine', () => {
    it('is one Standard state machine with a CDK-derived name and a 12 hour timeout', () => {
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      const [, machine] = resources('AWS::StepFunctions::StateMachine')[0]!;
      expect(machine.Properties.StateMachineType).toBe('STANDARD');
      expect(machine.Properties.StateMachineName).toBeUndefined();
      expect(JSON.stringify(machine.Properties.DefinitionString)).toContain('\\"TimeoutSeconds\\":43200');
    });

    it('logs ALL events with execution data to its own retained log group, and traces with X-Ray', () => {
      const [, machine] = resources('AWS::StepFunctions::StateMachine')[0]!;
      const logGroupId = logicalId(stack.workflow.logGroup);
      expect(machine.Properties).toMatchObject({
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: true,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
        },
      });
      const group = template.toJSON().Resources[logGroupId] as Resource;
      expect(group.Properties.RetentionInDays).toBe(365);
      expect(group.DeletionPolicy).toBe('Retain');
      // Its own: no function logs there.
      for (const [, fn] of resources('AWS::Lambda::Function')) {
        expect(fn.Properties.LoggingConfig).not.toEqual({ LogFormat: 'JSON', LogGroup: { Ref: logGroupId } });
      }
    });

    it('deploys exactly the definition the local stack runs (same states, transitions, Retry and Catch)', () => {
      const [, machine] = resources('AWS::StepFunctions::StateMachine')[0]!;
      const stepOfFunction = new Map(WORKFLOW_STEPS.map((step) => [functionId(step), step]));
      const join = machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
      const json = join['Fn::Join'][1]
        .map((part) => {
          if (typeof part === 'string') return part;
          const [id, attribute] = (part as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
          const step = stepOfFunction.get(id);
          if (attribute !== 'Arn' || step === undefined)
            throw new Error(`unexpected part ${JSON.stringify(part)}`);
          return localFunctionArn(step);
        })
        .join(join['Fn::Join'][0]);
      const deployed = JSON.parse(json) as { States: Record<string, { Resource?: string }> };
      expect(deployed).toEqual(renderExportWorkflowDefinition());
      // And each task invokes the function of its own step.
      for (const step of WORKFLOW_STEPS) {
        expect(deployed.States[WORKFLOW_STATE_NAMES[step]]!.Resource).toBe(localFunctionArn(step));
      }
    });

    it('may invoke only the six step functions, and log and trace; nothing on the data', () => {
      const role = logicalId(stack.workflow.stateMachine.role as never);
      const permissions = permissionsOf(role);
      const invoked = Object.entries(permissions).filter(([, actions]) =>
        actions.includes('lambda:InvokeFunction'),
      );
      expect(invoked.map(([, actions]) => actions)).toEqual(invoked.map(() => ['lambda:InvokeFunction']));
      const invokedIds = new Set(invoked.map(([resource]) => /"([A-Za-z0-9]+)","Arn"/.exec(resource)?.[1]));
      expect([...invokedIds].sort()).toEqual(WORKFLOW_STEPS.map(functionId).sort());
      expect(permissions['*']).toEqual(
        [
          'logs:CreateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:DescribeLogGroups',
          'logs:DescribeResourcePolicies',
          'logs:GetLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:UpdateLogDelivery',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          ...XRAY,
        ].sort(),
      );
      for (const kind of ['events', 'control', 'objects', 'bucket', 'key'])
        expect(permissions[kind]).toBeUndefined();
    });
  });

  describe('step functions', () => {
    const fnOf = (step: WorkflowStep) => template.toJSON().Resources[functionId(step)] as Resource;

    it('are seven, one per step, each with its own role and log group', () => {
      const roles = new Set(WORKFLOW_STEPS.map((step) => roleId(step)));
      const groups = new Set(
        WORKFLOW_STEPS.map((step) => logicalId(stack.workflow.functions[step].logGroup)),
      );
      expect(roles.size).toBe(7);
      expect(groups.size).toBe(7);
      for (const step of WORKFLOW_STEPS) {
        expect(fnOf(step).Properties).toMatchObject({
          Description: `Keeptrusts Export: workflow step ${WORKFLOW_STATE_NAMES[step]}`,
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
          Role: { 'Fn::GetAtt': [roleId(step), 'Arn'] },
          LoggingConfig: { LogGroup: { Ref: logicalId(stack.workflow.functions[step].logGroup) } },
        });
      }
    });

    it('get the table and bucket names, as RuntimeConfig requires, and nothing else of ours', () => {
      const signs = new Set<WorkflowStep>(['finalize', 'deliver', 'recordAudit', 'markFailed']);
      for (const step of WORKFLOW_STEPS) {
        expect((fnOf(step).Properties.Environment as { Variables: unknown }).Variables).toEqual({
          EVENTS_TABLE: { Ref: logicalId(stack.data.eventsTable) },
          CONTROL_TABLE: { Ref: logicalId(stack.data.controlTable) },
          ARTIFACT_BUCKET: { Ref: logicalId(stack.data.artifactBucket) },
          POWERTOOLS_SERVICE_NAME: 'keeptrusts-export',
          // ExportPage alone runs with bounded V8 heap limits (flat memory, see the bench).
          NODE_OPTIONS:
            step === 'exportPage'
              ? `--enable-source-maps ${EXPORT_PAGE_NODE_OPTIONS.join(' ')}`
              : '--enable-source-maps',
          // Only the steps that sign evidence (manifests, audit checkpoints) know the key.
          ...(signs.has(step)
            ? { SIGNING_KEY_ID: { 'Fn::GetAtt': [logicalId(stack.signingKey.key), 'Arn'] } }
            : {}),
        });
      }
    });

    it('have the timeouts the task timeouts derive from; ExportPage has 1024 MB and 15 minutes', () => {
      for (const step of WORKFLOW_STEPS) {
        expect(fnOf(step).Properties.Timeout).toBe(WORKFLOW_FUNCTION_TIMEOUTS[step].toSeconds());
      }
      expect(fnOf('exportPage').Properties).toMatchObject({ MemorySize: 1024, Timeout: 900 });
      // Deliver streams the artifact through one 8 MiB part at a time.
      expect(fnOf('deliver').Properties).toMatchObject({ MemorySize: 512, Timeout: 900 });
      // RenderReport draws the PDF (CPU-bound) with the parsed fonts in memory.
      expect(fnOf('renderReport').Properties).toMatchObject({ MemorySize: 2048, Timeout: 900 });
    });
  });

  describe('least privilege per function', () => {
    // Exact actions, resources and leading-key conditions: test/infra/least-privilege.test.ts.
    const common = { key: KEY_READ_WRITE, '*': XRAY, logs: ['logs:CreateLogStream', 'logs:PutLogEvents'] };
    /** Read a job (or audit item) and write it whole, on the control table's items of its kinds. */
    const ITEMS = ['dynamodb:GetItem', 'dynamodb:PutItem'];
    /** ...and free a running-export slot (a Query of the creator's slots, a DeleteItem of its own). */
    const ITEMS_AND_SLOT = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'];

    // Finalize signs the manifest; Deliver, RecordAudit and MarkFailed append to the audit trail,
    // which signs checkpoints. kms:Sign on the signing key, nothing else on it.
    const signs = { signingKey: ['kms:Sign'] };
    it.each([
      ['prepare', { ...common, control: ITEMS, objects: ['s3:AbortMultipartUpload', 's3:PutObject'] }],
      // ExportPage aborts its upload again when it finds its export cancelled.
      [
        'exportPage',
        { ...common, events: ['dynamodb:Query'], control: ITEMS, objects: ['s3:AbortMultipartUpload', 's3:PutObject'] },
      ],
      // RenderReport reads the events again for the table and uploads the report's parts.
      [
        'renderReport',
        {
          ...common,
          events: ['dynamodb:Query'],
          control: ITEMS,
          objects: ['s3:AbortMultipartUpload', 's3:PutObject'],
        },
      ],
      // Finalize also reads the size of the completed object (HeadObject needs GetObject).
      [
        'finalize',
        {
          ...common,
          ...signs,
          // The completeness check counts the matching events itself.
          events: ['dynamodb:Query'],
          control: ITEMS_AND_SLOT,
          objects: ['s3:GetObject', 's3:PutObject'],
          bucket: ['s3:ListBucket'],
        },
      ],
      // RecordAudit reads the export's earlier entries (gsi1 Query) before it appends.
      [
        'recordAudit',
        { ...common, ...signs, control: [...ITEMS, 'dynamodb:Query'], checkpoints: ['s3:PutObject'] },
      ],
      // Deliver reads the artifact and manifest and appends its outcome to the audit trail; with no
      // delivery buckets allowed (this stack) it may write to no bucket at all.
      [
        'deliver',
        {
          ...common,
          ...signs,
          control: [...ITEMS, 'dynamodb:Query'],
          objects: ['s3:GetObject'],
          bucket: ['s3:ListBucket'],
          checkpoints: ['s3:PutObject'],
        },
      ],
      [
        'markFailed',
        {
          ...common,
          ...signs,
          control: ITEMS_AND_SLOT,
          objects: ['s3:AbortMultipartUpload'],
          checkpoints: ['s3:PutObject'],
        },
      ],
    ] as const)('%s holds exactly its grants', (step, expected) => {
      expect(permissionsOf(roleId(step))).toEqual(expected);
    });

    it('ExportPage cannot write (or delete) decision events', () => {
      const events = permissionsOf(roleId('exportPage')).events!;
      for (const action of TABLE_WRITE) expect(events).not.toContain(action);
    });

    it('RecordAudit touches S3 only to write audit checkpoints, and never the events table', () => {
      const { checkpoints, ...rest } = permissionsOf(roleId('recordAudit'));
      expect(checkpoints).toEqual(['s3:PutObject']);
      expect(Object.values(rest).flat().filter((action) => action.startsWith('s3:'))).toEqual([]);
      expect(permissionsOf(roleId('recordAudit')).events).toBeUndefined();
    });

    it('MarkFailed can abort the multipart upload of a failed export, but not read, write or delete artifacts', () => {
      expect(permissionsOf(roleId('markFailed')).objects).toEqual(['s3:AbortMultipartUpload']);
    });

    it('no step function may delete artifacts or start or stop executions; only Finalize and Deliver read artifacts', () => {
      for (const step of WORKFLOW_STEPS) {
        const actions = Object.values(permissionsOf(roleId(step))).flat();
        for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 'states:StartExecution', 'states:StopExecution']) {
          expect(actions).not.toContain(action);
        }
        if (step !== 'finalize' && step !== 'deliver') {
          expect(actions).not.toContain('s3:GetObject');
          expect(actions).not.toContain('s3:ListBucket');
        }
      }
    });
  });

  describe('the API function', () => {
    it('gets STATE_MACHINE_ARN (the authorizer does not)', () => {
      const api = template.toJSON().Resources[logicalId(stack.api.apiFunction.function)] as Resource;
      expect((api.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        STATE_MACHINE_ARN: { Ref: stateMachineId() },
      });
      const authorizer = template.toJSON().Resources[
        logicalId(stack.api.authorizerFunction.function)
      ] as Resource;
      expect(
        (authorizer.Properties.Environment as { Variables: Record<string, unknown> }).Variables
          .STATE_MACHINE_ARN,
      ).toBeUndefined();
    });

    it('may start and stop executions of this state machine only, read artifacts for presigned URLs, delete them and abort a cancelled export\'s uploads', () => {
      const permissions = permissionsOf(roleId('api'));
      expect(permissions).toEqual({
        // Ingest only: claims ids and writes events, never reads them back.
        events: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        control: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        objects: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject'],
        bucket: ['s3:ListBucket'],
        // Writes checkpoints when it appends to the audit trail; reads the latest for GET /v1/audit/checkpoint.
        checkpoints: ['s3:GetObject', 's3:PutObject'],
        key: KEY_READ_WRITE,
        // Lists the public keys (GET /v1/keys) and signs audit checkpoints.
        signingKey: ['kms:GetPublicKey', 'kms:Sign'],
        // Starts exports' executions, and stops them to cancel an export.
        stateMachine: ['states:StartExecution', 'states:StopExecution'],
        // Manages the schedules of its own Scheduler group, handing them only the scheduler role.
        schedules: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule'],
        schedulerRole: ['iam:PassRole'],
        '*': XRAY,
        logs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      });
      const start = statementsOf(roleId('api')).filter((s) =>
        asArray(s.Action).includes('states:StartExecution'),
      );
      expect(start).toEqual([
        { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stateMachineId() } },
      ]);
      // StopExecution on this state machine's executions (execution:<its name>:*), nothing wider.
      const stop = statementsOf(roleId('api')).filter((s) => asArray(s.Action).includes('states:StopExecution'));
      expect(stop).toHaveLength(1);
      expect(stop[0]!.Action).toBe('states:StopExecution');
      expect(JSON.stringify(stop[0]!.Resource)).toBe(
        JSON.stringify({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':states:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':execution:',
              { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: stateMachineId() }] }] },
              ':*',
            ],
          ],
        }),
      );
    });
  });

  it('outputs the state machine ARN', () => {
    template.hasOutput('StateMachineArn', { Value: { Ref: stateMachineId() } });
  });

  describe('with delivery buckets allowed (deliveryBuckets)', () => {
    const BUCKETS = [
      { bucket: 'compliance-artifacts', account: '111122223333', region: 'us-east-1' },
      { bucket: 'audit-drop', account: '444455556666' },
    ];
    let delivering: KeeptrustsExportStack;
    let deliveringTemplate: Template;

    beforeAll(() => {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      delivering = new KeeptrustsExportStack(app, 'Delivering', { data: { deliveryBuckets: BUCKETS } });
      deliveringTemplate = Template.fromStack(delivering);
    });

    const statementsNaming = (bucket: string): { role: string; statement: Statement & { Condition?: unknown } }[] => {
      const out: { role: string; statement: Statement & { Condition?: unknown } }[] = [];
      for (const policy of Object.values(deliveringTemplate.findResources('AWS::IAM::Policy')) as Resource[]) {
        const doc = policy.Properties.PolicyDocument as { Statement: (Statement & { Condition?: unknown })[] };
        for (const statement of doc.Statement) {
          if (JSON.stringify(statement.Resource).includes(`:::${bucket}`)) {
            for (const role of policy.Properties.Roles as { Ref: string }[]) out.push({ role: role.Ref, statement });
          }
        }
      }
      return out;
    };

    it('lets Deliver alone put objects into each bucket, only while its listed account owns it', () => {
      const deliverRole = delivering.resolve(
        (delivering.workflow.functions.deliver.role.node.defaultChild as unknown as { logicalId: string }).logicalId,
      ) as string;
      for (const { bucket, account } of BUCKETS) {
        expect(statementsNaming(bucket)).toEqual([
          {
            role: deliverRole,
            statement: {
              Effect: 'Allow',
              Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
              Resource: `arn:aws:s3:::${bucket}/*`,
              Condition: { StringEquals: { 's3:ResourceAccount': account } },
            },
          },
        ]);
      }
    });

    it('gives every function the allow-list as DELIVERY_BUCKETS (the API checks requests against it)', () => {
      const variables = (fn: { node: { defaultChild?: unknown } }) =>
        (
          deliveringTemplate.toJSON().Resources[
            delivering.resolve((fn.node.defaultChild as { logicalId: string }).logicalId) as string
          ] as Resource
        ).Properties.Environment as { Variables: Record<string, unknown> };
      expect(JSON.parse(String(variables(delivering.api.apiFunction.function).Variables.DELIVERY_BUCKETS))).toEqual(
        BUCKETS,
      );
      expect(
        JSON.parse(String(variables(delivering.workflow.functions.deliver.function).Variables.DELIVERY_BUCKETS)),
      ).toEqual(BUCKETS);
    });
  });
});
