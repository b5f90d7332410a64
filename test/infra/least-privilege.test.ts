import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { type Adapters, createAdapters, useAdapters } from '../../functions/adapters/composition-root.ts';
import { authenticate } from '../../functions/core/auth/tokens.ts';
import type { Principal } from '../../functions/core/auth/token-record.ts';
import { latestAuditCheckpoint, listAuditEntries } from '../../functions/core/audit/read-audit.ts';
import { createToken } from '../../functions/core/auth/token-operations.ts';
import { generateDemoEvents } from '../../functions/core/events/demo-events.ts';
import { ingestEvents } from '../../functions/core/events/ingest.ts';
import type { DeliveryBucket } from '../../functions/core/export/delivery.ts';
import { artifactKeyOf, companionKeyOf } from '../../functions/core/export/export-artifact.ts';
import { manifestNameOf } from '../../functions/core/evidence/manifest.ts';
import { CHECKPOINT_PREFIX } from '../../functions/core/audit/checkpoint.ts';
import { createExport } from '../../functions/core/export/operations/create-export.ts';
import { cancelExport } from '../../functions/core/export/operations/cancel-export.ts';
import { deleteExport } from '../../functions/core/export/operations/delete-export.ts';
import { downloadExport } from '../../functions/core/export/operations/download-export.ts';
import { getExportManifest } from '../../functions/core/export/operations/read-exports.ts';
import { createSchedule, fireSchedule } from '../../functions/core/schedules/schedule-operations.ts';
import type { WorkflowStarter } from '../../functions/core/ports.ts';
import {
  auditReadDeps,
  exportOperationDeps,
  ingestDeps,
  scheduleOperationDeps,
  tokenOperationDeps,
} from '../../functions/adapters/composition-root.ts';
import { handler as deliver } from '../../functions/handlers/workflow/deliver.ts';
import { handler as exportPage } from '../../functions/handlers/workflow/export-page.ts';
import { handler as finalize } from '../../functions/handlers/workflow/finalize.ts';
import { handler as markFailed } from '../../functions/handlers/workflow/mark-failed.ts';
import { handler as prepare } from '../../functions/handlers/workflow/prepare.ts';
import { handler as recordAudit } from '../../functions/handlers/workflow/record-audit.ts';
import { handler as renderReport } from '../../functions/handlers/workflow/render-report.ts';
import { CONTROL_ITEM_KEYS, EVENT_ITEM_KEYS, EXPORT_OBJECT_PREFIX } from '../../infra/constructs/data.ts';
import type { WorkflowStep } from '../../infra/constructs/workflow-definition.ts';
import { LocalWorkflowRunner, type StepHandler } from '../../infra/local/local-workflow.ts';
import { withPartUploadFault, withUploadPart } from '../../infra/local/part-upload-fault.ts';
import { renderExportWorkflowDefinition } from '../../infra/local/workflow-definition.ts';
import { KeeptrustsExportStack } from '../../infra/stack.ts';
import { type ExportServers, startExportServers } from '../support/export-world.ts';
import { NO_RETRY_WAIT } from '../support/local-stack-config.ts';

/**
 * Least privilege, two ways:
 *
 * 1. The exact permissions of each function's role, read from the synthesized template (actions,
 *    resources, conditions), so a grant that widens shows up here.
 * 2. The functions' own AWS calls, each checked against its role's synthesized policy: the real
 *    handlers and operations run on the embedded DynamoDB and S3, every function with clients of
 *    its own whose requests pass through a small IAM evaluator (actions, resource ARNs,
 *    `dynamodb:LeadingKeys`, `s3:ResourceAccount`). IAM is not enforced locally, so this is
 *    what tells a tightened policy from a broken function before AWS does.
 */

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Properties: Record<string, unknown> };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The functions, by the description on their roles. */
const FUNCTIONS = {
  api: 'HTTP API (/v1 router)',
  authorizer: 'API token authorizer',
  scheduled: 'scheduled export runs (EventBridge Scheduler target)',
  prepare: 'workflow step Prepare',
  exportPage: 'workflow step ExportPage',
  renderReport: 'workflow step RenderReport',
  finalize: 'workflow step Finalize',
  deliver: 'workflow step Deliver',
  recordAudit: 'workflow step RecordAudit',
  markFailed: 'workflow step MarkFailed',
} as const;
type FunctionName = keyof typeof FUNCTIONS;

const CUSTOMER_ACCOUNT = '000000000000';

/** The synthesized stack (bundling skipped) and a reader of its roles' policies. */
function synthesize(deliveryBuckets: readonly DeliveryBucket[] = []) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new KeeptrustsExportStack(app, 'LeastPrivilege', {
    data: deliveryBuckets.length === 0 ? {} : { deliveryBuckets },
  });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> };
  const idOf = (element: unknown) => stack.getLogicalId(element as CfnElement);
  /** Friendly names of the resources the policies name. */
  const names = new Map<string, string>([
    [idOf(stack.data.eventsTable.node.defaultChild), 'DecisionEvents'],
    [idOf(stack.data.controlTable.node.defaultChild), 'ExportControl'],
    [idOf(stack.data.artifactBucket.node.defaultChild), 'Artifacts'],
    [idOf(stack.data.encryptionKey.node.defaultChild), 'DataKey'],
    [idOf(stack.signingKey.key.node.defaultChild), 'SigningKey'],
    [idOf(stack.workflow.stateMachine.node.defaultChild), 'StateMachine'],
    [idOf(stack.scheduling.schedulerRole.node.defaultChild), 'SchedulerRole'],
    [idOf(stack.scheduling.group.node.defaultChild), 'ScheduleGroup'],
    [idOf(stack.scheduling.deadLetterQueue.node.defaultChild), 'DeadLetterQueue'],
    [idOf(stack.scheduling.scheduledFunction.function.node.defaultChild), 'ScheduledFunction'],
  ]);
  for (const fn of [
    stack.api.apiFunction,
    stack.api.authorizerFunction,
    stack.scheduling.scheduledFunction,
    ...Object.values(stack.workflow.functions),
  ]) {
    names.set(idOf(fn.logGroup.node.defaultChild), 'OwnLogGroup');
  }
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (v['Fn::GetAtt']) {
      const [id, attribute] = v['Fn::GetAtt'] as [string, string];
      return `${names.get(id) ?? id}${attribute === 'Arn' ? '' : `.${attribute}`}`;
    }
    if (v.Ref) return names.get(v.Ref as string) ?? `\${${v.Ref as string}}`;
    if (v['Fn::Join']) return (v['Fn::Join'] as [string, unknown[]])[1].map(render).join('');
    // The name in an ARN (`arn:partition:service:region:account:type:name`): CDK's Arn.split.
    const select = v['Fn::Select'] as [number, { 'Fn::Split'?: [string, unknown] }] | undefined;
    if (select?.[0] === 6 && select[1]['Fn::Split']?.[0] === ':') return `${render(select[1]['Fn::Split'][1])}.Name`;
    return JSON.stringify(value);
  };
  /** The role's statements: its inline policies and its default policy. */
  const statementsOf = (fn: FunctionName): Statement[] => {
    const roles = Object.entries(template.Resources).filter(
      ([, r]) =>
        r.Type === 'AWS::IAM::Role' &&
        r.Properties.Description === `Execution role: Keeptrusts Export: ${FUNCTIONS[fn]}`,
    );
    expect(roles).toHaveLength(1);
    const [roleId, role] = roles[0]!;
    const inline = (
      (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const attached = Object.values(template.Resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId),
      )
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    return [...inline, ...attached].map((statement) => ({
      ...statement,
      Resource: asArray(statement.Resource as unknown).map(render),
    }));
  };
  /** One line per action and resource (and condition): independent of how statements are grouped. */
  const permissionsOf = (fn: FunctionName): string[] => {
    const lines = new Set<string>();
    for (const statement of statementsOf(fn)) {
      expect(statement.Effect).toBe('Allow');
      const condition = Object.entries(statement.Condition ?? {})
        .flatMap(([operator, entries]) =>
          Object.entries(entries).map(([key, value]) => ` if ${operator} ${key} ${asArray(value).join(',')}`),
        )
        .join('');
      for (const action of asArray(statement.Action)) {
        for (const resource of statement.Resource as string[]) lines.add(`${action} ${resource}${condition}`);
      }
    }
    return [...lines].sort();
  };
  /** The schedule group's name: CDK generates it when none is given. */
  const scheduleGroupName = String(stack.resolve(stack.scheduling.group.scheduleGroupName));
  return { stack, template, statementsOf, permissionsOf, scheduleGroupName };
}

const LOGS = ['logs:CreateLogStream OwnLogGroup', 'logs:PutLogEvents OwnLogGroup'];
const XRAY = ['xray:PutTelemetryRecords *', 'xray:PutTraceSegments *'];
const LK = (...patterns: string[]) =>
  ` if ForAllValues:StringLike dynamodb:LeadingKeys ${patterns.join(',')}`;
const KEY_READ = ['kms:Decrypt DataKey'];
const KEY_WRITE = ['kms:Decrypt DataKey', 'kms:Encrypt DataKey', 'kms:GenerateDataKey DataKey'];
const EVENTS_QUERY = [
  `dynamodb:Query DecisionEvents${LK('D#*')}`,
  'dynamodb:Query DecisionEvents/index/byPolicy',
  'dynamodb:Query DecisionEvents/index/byTeam',
  'dynamodb:Query DecisionEvents/index/byTeamPolicy',
];
const sorted = (...groups: string[][]) => [...new Set(groups.flat())].sort();

describe('each function holds exactly the permissions it uses', () => {
  const { permissionsOf, scheduleGroupName } = synthesize();

  it('the authorizer: GetItem of token items (TOKEN#*) only, and decrypting them', () => {
    expect(permissionsOf('authorizer')).toEqual(
      sorted(LOGS, XRAY, KEY_READ, [`dynamodb:GetItem ExportControl${LK('TOKEN#*')}`]),
    );
  });

  it('the API: ingest without reading events, every control item, its objects, keys, workflow and schedules', () => {
    expect(permissionsOf('api')).toEqual(
      sorted(LOGS, XRAY, KEY_WRITE, [
        // Ingest: claims ids (id records only) and writes events (event partitions only); no Query.
        `dynamodb:BatchGetItem DecisionEvents${LK('ID#*')}`,
        `dynamodb:PutItem DecisionEvents${LK('ID#*')}`,
        `dynamodb:BatchWriteItem DecisionEvents${LK('D#*')}`,
        // Every kind of control item, and the lists on gsi1; no Scan, batch or transaction.
        'dynamodb:DeleteItem ExportControl',
        'dynamodb:GetItem ExportControl',
        'dynamodb:PutItem ExportControl',
        'dynamodb:Query ExportControl',
        'dynamodb:UpdateItem ExportControl',
        'dynamodb:Query ExportControl/index/gsi1',
        // Downloads (presigned GET), manifests, deletes and a cancelled export's uploads aborted
        // under exports/; checkpoints read and written.
        's3:GetObject Artifacts/exports/*',
        's3:DeleteObject Artifacts/exports/*',
        's3:AbortMultipartUpload Artifacts/exports/*',
        's3:GetObject Artifacts/audit/checkpoints/*',
        's3:PutObject Artifacts/audit/checkpoints/*',
        's3:ListBucket Artifacts',
        'kms:Sign SigningKey',
        'kms:GetPublicKey SigningKey',
        'states:StartExecution StateMachine',
        // Cancelling an export stops its execution: this state machine's executions only.
        `states:StopExecution arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:StateMachine.Name:*`,
        ...['CreateSchedule', 'DeleteSchedule', 'GetSchedule', 'UpdateSchedule'].map(
          (action) =>
            `scheduler:${action} arn:\${AWS::Partition}:scheduler:\${AWS::Region}:\${AWS::AccountId}:schedule/${scheduleGroupName}/*`,
        ),
        'iam:PassRole SchedulerRole if StringEquals iam:PassedToService scheduler.amazonaws.com',
      ]),
    );
  });

  it.each<[FunctionName, string[]]>([
    [
      'prepare',
      [
        `dynamodb:GetItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*')}`,
        's3:PutObject Artifacts/exports/*',
        's3:AbortMultipartUpload Artifacts/exports/*',
        ...KEY_WRITE,
      ],
    ],
    [
      'exportPage',
      [
        ...EVENTS_QUERY,
        `dynamodb:GetItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*')}`,
        's3:PutObject Artifacts/exports/*',
        // Finding its export cancelled, it aborts the upload again (a part in flight may outlive
        // the cancellation's abort).
        's3:AbortMultipartUpload Artifacts/exports/*',
        ...KEY_WRITE,
      ],
    ],
    [
      'renderReport',
      [
        ...EVENTS_QUERY,
        `dynamodb:GetItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*')}`,
        's3:PutObject Artifacts/exports/*',
        's3:AbortMultipartUpload Artifacts/exports/*',
        ...KEY_WRITE,
      ],
    ],
    [
      'finalize',
      [
        ...EVENTS_QUERY,
        `dynamodb:GetItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:GetItem ExportControl${LK('AUDIT')}`,
        // Frees the creator's running-export slot once the export is complete.
        `dynamodb:Query ExportControl${LK('RUNNING#*')}`,
        `dynamodb:DeleteItem ExportControl${LK('RUNNING#*')}`,
        's3:PutObject Artifacts/exports/*',
        's3:GetObject Artifacts/exports/*',
        's3:ListBucket Artifacts',
        'kms:Sign SigningKey',
        ...KEY_WRITE,
      ],
    ],
    [
      'deliver',
      [
        `dynamodb:GetItem ExportControl${LK('EXPORT#*', 'AUDIT')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*', 'AUDIT')}`,
        'dynamodb:Query ExportControl/index/gsi1',
        's3:GetObject Artifacts/exports/*',
        's3:ListBucket Artifacts',
        's3:PutObject Artifacts/audit/checkpoints/*',
        'kms:Sign SigningKey',
        ...KEY_WRITE,
      ],
    ],
    [
      'recordAudit',
      [
        `dynamodb:GetItem ExportControl${LK('EXPORT#*')}`,
        `dynamodb:GetItem ExportControl${LK('AUDIT')}`,
        `dynamodb:PutItem ExportControl${LK('AUDIT')}`,
        'dynamodb:Query ExportControl/index/gsi1',
        's3:PutObject Artifacts/audit/checkpoints/*',
        'kms:Sign SigningKey',
        ...KEY_WRITE,
      ],
    ],
    [
      'markFailed',
      [
        `dynamodb:GetItem ExportControl${LK('EXPORT#*', 'AUDIT')}`,
        `dynamodb:PutItem ExportControl${LK('EXPORT#*', 'AUDIT')}`,
        `dynamodb:Query ExportControl${LK('RUNNING#*')}`,
        `dynamodb:DeleteItem ExportControl${LK('RUNNING#*')}`,
        's3:AbortMultipartUpload Artifacts/exports/*',
        's3:PutObject Artifacts/audit/checkpoints/*',
        'kms:Sign SigningKey',
        ...KEY_WRITE,
      ],
    ],
    [
      'scheduled',
      [
        `dynamodb:GetItem ExportControl${LK('SCHEDULE#*', 'EXPORT#*', 'AUDIT')}`,
        `dynamodb:PutItem ExportControl${LK('SCHEDULE#*', 'EXPORT#*', 'AUDIT')}`,
        's3:PutObject Artifacts/audit/checkpoints/*',
        'kms:Sign SigningKey',
        'states:StartExecution StateMachine',
        'sqs:SendMessage DeadLetterQueue',
        ...KEY_WRITE,
      ],
    ],
  ])('%s: its own items, objects and key actions, nothing else', (fn, expected) => {
    expect(permissionsOf(fn)).toEqual(sorted(LOGS, XRAY, expected));
  });

  it('no function may Scan, use a batch or transaction on the control table, or write outside its prefixes', () => {
    for (const fn of Object.keys(FUNCTIONS) as FunctionName[]) {
      const permissions = permissionsOf(fn);
      expect(
        permissions.filter((p) =>
          /dynamodb:(Scan|TransactWriteItems|TransactGetItems|ConditionCheckItem)/.test(p),
        ),
      ).toEqual([]);
      expect(permissions.filter((p) => /^dynamodb:Batch\w+ ExportControl/.test(p))).toEqual([]);
      expect(permissions.filter((p) => /^s3:\w+ Artifacts\/\*/.test(p))).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The functions' own calls against their policies.

/** IAM's `*` and `?` in a resource or StringLike pattern. */
function globMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 's').test(value);
}

interface Call {
  readonly fn: FunctionName;
  readonly action: string;
  readonly resource: string;
  /** The partition keys of the request (DynamoDB), for dynamodb:LeadingKeys. */
  readonly leadingKeys?: readonly string[];
  /** The bucket owner the request expects (S3 ExpectedBucketOwner), for s3:ResourceAccount. */
  readonly resourceAccount?: string;
}

/** Whether one of `statements` allows `call` (every statement here is an Allow). */
function allows(statements: readonly Statement[], call: Call): boolean {
  return statements.some((statement) => {
    if (!asArray(statement.Action).some((action) => globMatches(action, call.action))) return false;
    if (!(statement.Resource as string[]).some((resource) => globMatches(resource, call.resource)))
      return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, entries]) =>
      Object.entries(entries).every(([key, expected]) => {
        const patterns = asArray(expected) as string[];
        if (operator === 'ForAllValues:StringLike' && key === 'dynamodb:LeadingKeys') {
          return (call.leadingKeys ?? []).every((value) => patterns.some((p) => globMatches(p, value)));
        }
        if (operator === 'StringEquals' && key === 's3:ResourceAccount') {
          return call.resourceAccount !== undefined && patterns.includes(call.resourceAccount);
        }
        // A condition this evaluator does not know fails closed: teach it rather than guess.
        return false;
      }),
    );
  });
}

type Input = Record<string, unknown>;
const stringOf = (value: unknown): string => (value as { S?: string } | undefined)?.S ?? String(value);

/** The IAM actions, resources and keys of one DynamoDB request (marshalled input). */
function dynamoCalls(
  fn: FunctionName,
  command: string,
  input: Input,
  tableArn: (name: string) => string,
): Call[] {
  const action = `dynamodb:${command.replace(/Command$/, '')}`;
  const pkOf = (item: unknown) => stringOf((item as Record<string, unknown>).pk);
  if (command === 'BatchGetItemCommand') {
    return Object.entries(input.RequestItems as Record<string, { Keys: unknown[] }>).map(
      ([table, request]) => ({
        fn,
        action,
        resource: tableArn(table),
        leadingKeys: request.Keys.map(pkOf),
      }),
    );
  }
  if (command === 'BatchWriteItemCommand') {
    return Object.entries(input.RequestItems as Record<string, Input[]>).map(([table, requests]) => ({
      fn,
      action,
      resource: tableArn(table),
      leadingKeys: requests.map((r) =>
        pkOf(
          (r.PutRequest as { Item: unknown } | undefined)?.Item ?? (r.DeleteRequest as { Key: unknown }).Key,
        ),
      ),
    }));
  }
  if (command === 'TransactWriteItemsCommand') {
    // IAM authorizes each action of a transaction as the single-item call it is.
    const ACTIONS: Record<string, string> = {
      Put: 'PutItem',
      Delete: 'DeleteItem',
      Update: 'UpdateItem',
      ConditionCheck: 'ConditionCheckItem',
    };
    return (input.TransactItems as Record<string, Input>[]).map((item) => {
      const [kind, request] = Object.entries(item)[0]!;
      return {
        fn,
        action: `dynamodb:${ACTIONS[kind]}`,
        resource: tableArn(String(request.TableName)),
        leadingKeys: [pkOf(request.Key ?? request.Item)],
      };
    });
  }
  const table = tableArn(String(input.TableName));
  if (command === 'QueryCommand') {
    const match = /^\s*(#?\w+)\s*=\s*(:\w+)/.exec(String(input.KeyConditionExpression));
    if (match === null)
      throw new Error(`unexpected KeyConditionExpression ${String(input.KeyConditionExpression)}`);
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const attribute = names[match[1]!] ?? match[1]!;
    const value = stringOf((input.ExpressionAttributeValues as Input)[match[2]!]);
    if (input.IndexName !== undefined)
      return [{ fn, action, resource: `${table}/index/${String(input.IndexName)}` }];
    if (attribute !== 'pk') throw new Error(`a base-table Query on ${attribute}, not the partition key`);
    return [{ fn, action, resource: table, leadingKeys: [value] }];
  }
  const key = input.Key ?? input.Item;
  if (key === undefined) throw new Error(`no key in ${command}`);
  return [{ fn, action, resource: table, leadingKeys: [pkOf(key)] }];
}

const S3_ACTIONS: Readonly<Record<string, string>> = {
  PutObjectCommand: 's3:PutObject',
  CreateMultipartUploadCommand: 's3:PutObject',
  UploadPartCommand: 's3:PutObject',
  CompleteMultipartUploadCommand: 's3:PutObject',
  AbortMultipartUploadCommand: 's3:AbortMultipartUpload',
  GetObjectCommand: 's3:GetObject',
  HeadObjectCommand: 's3:GetObject',
  DeleteObjectCommand: 's3:DeleteObject',
  ListMultipartUploadsCommand: 's3:ListBucketMultipartUploads',
};

/**
 * Held for what follows a failure, which the flows here do not take: a retried Prepare or
 * RenderReport first aborts the upload its failed attempt left open, and Deliver aborts its upload
 * to the customer bucket when a part fails.
 */
const USED_ONLY_AFTER_A_FAILURE = [
  'deliver s3:AbortMultipartUpload',
  'prepare s3:AbortMultipartUpload',
  'renderReport s3:AbortMultipartUpload',
];

class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedException';
}

describe("every AWS call of the functions is allowed by its role's synthesized policy", () => {
  let servers: ExportServers;
  let base: Adapters;
  let customerBucket: string;
  let policy: ReturnType<typeof synthesize>;
  const calls: Call[] = [];
  const denied: Call[] = [];
  const started: string[] = [];
  const ADMIN: Principal = { tokenId: 'tok_000000000000', name: 'least-privilege', scopes: ['admin'] };

  /** Adapters over the shared tables and bucket, with clients that check every request against `fn`'s policy. */
  const as = (fn: FunctionName, overrides: Parameters<typeof createAdapters>[1] = {}): Adapters => {
    const statements = policy.statementsOf(fn);
    const config = {
      ...base.config,
      // Every audit append writes a checkpoint, so that path runs in every function that appends.
      auditCheckpointEvery: 1,
      deliveryBuckets: [{ bucket: customerBucket, account: CUSTOMER_ACCOUNT }],
    };
    const adapters = createAdapters(config, {
      signing: { signer: base.signer, publicKeys: base.publicKeys },
      // Executions are started by the test once the caller is done (one function at a time).
      // Stopping is left to the steps (as when a stop comes late): they find the export cancelled.
      workflow: {
        startExport: async (id) => void started.push(id),
        stopExport: async () => undefined,
      } satisfies WorkflowStarter,
      scheduleTrigger: { putTrigger: async () => undefined, deleteTrigger: async () => undefined },
      ...overrides,
    });
    const tableArn = (name: string) => {
      if (name === config.eventsTable) return 'DecisionEvents';
      if (name === config.controlTable) return 'ExportControl';
      throw new Error(`a request to table ${name}, which is not the stack's`);
    };
    const check = (call: Call) => {
      calls.push(call);
      if (!allows(statements, call)) {
        denied.push(call);
        throw new AccessDeniedError(
          `${fn} may not ${call.action} on ${call.resource} (${call.leadingKeys ?? ''})`,
        );
      }
    };
    adapters.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        for (const call of dynamoCalls(fn, String(context.commandName), args.input as Input, tableArn))
          check(call);
        return next(args);
      },
      { step: 'serialize', priority: 'high', name: 'leastPrivilegeCheck' },
    );
    adapters.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Input;
        const command = String(context.commandName);
        const action = S3_ACTIONS[command];
        if (action === undefined) throw new Error(`unexpected S3 request ${command}`);
        const bucket = String(input.Bucket);
        const objects = bucket === config.artifactBucket ? 'Artifacts' : `arn:aws:s3:::${bucket}`;
        check({
          fn,
          action,
          resource: input.Key === undefined ? objects : `${objects}/${String(input.Key)}`,
          ...(input.ExpectedBucketOwner === undefined
            ? {}
            : { resourceAccount: String(input.ExpectedBucketOwner) }),
        });
        return next(args);
      },
      { step: 'serialize', priority: 'high', name: 'leastPrivilegeCheck' },
    );
    return adapters;
  };

  /**
   * Runs every execution started so far, each step as its own function. `cancelDuringExportPage`:
   * the API cancels the export while ExportPage uploads its first part.
   */
  const runWorkflow = async (faults: { exportPageFails?: boolean; cancelDuringExportPage?: string } = {}) => {
    const steps: Record<WorkflowStep, StepHandler> = {
      prepare,
      exportPage,
      renderReport,
      finalize,
      deliver,
      recordAudit,
      markFailed,
    };
    const worlds = Object.fromEntries(
      (Object.keys(steps) as WorkflowStep[]).map((step) => [
        step,
        as(step, step === 'exportPage' ? exportPageOverrides(faults) : {}),
      ]),
    ) as Record<WorkflowStep, Adapters>;
    const runner = new LocalWorkflowRunner({
      definition: renderExportWorkflowDefinition(),
      handlers: Object.fromEntries(
        (Object.entries(steps) as [WorkflowStep, StepHandler][]).map(([step, handler]) => [
          step,
          // One step runs at a time, so the process-wide adapters can be the step's own.
          (input: unknown, context: Context) => {
            useAdapters(worlds[step]);
            return handler(input, context);
          },
        ]),
      ) as Record<WorkflowStep, StepHandler>,
      retryIntervalOverrides: NO_RETRY_WAIT,
    });
    for (const id of started.splice(0)) await runner.startExport(id);
    await runner.idle();
  };

  const exportPageOverrides = (faults: {
    exportPageFails?: boolean;
    cancelDuringExportPage?: string;
  }): Parameters<typeof createAdapters>[1] => {
    if (faults.exportPageFails) return { artifactStore: (store) => withPartUploadFault(store, { afterParts: 0 }) };
    const id = faults.cancelDuringExportPage;
    if (id === undefined) return {};
    return {
      artifactStore: (store) =>
        withUploadPart(store, async (key, uploadId, partNumber, body) => {
          await cancelExport(exportOperationDeps(as('api')), id, ADMIN);
          return store.uploadPart(key, uploadId, partNumber, body);
        }),
    };
  };

  beforeAll(async () => {
    servers = await startExportServers();
    base = await servers.world('least-privilege');
    customerBucket = (await servers.world('customer')).config.artifactBucket;
    policy = synthesize([{ bucket: customerBucket, account: CUSTOMER_ACCOUNT }]);
  }, 120_000);

  afterAll(async () => {
    useAdapters(undefined as unknown as Adapters);
    await servers?.close();
  });

  afterEach(() => {
    // Every denial fails the test that caused it, with what was asked.
    expect(denied.splice(0)).toEqual([]);
  });

  it('the API ingests events, and the authorizer finds a token the API created', async () => {
    const api = as('api');
    const events = [
      ...generateDemoEvents({
        count: 400,
        from: new Date('2026-04-01T00:00:00Z'),
        to: new Date('2026-04-03T00:00:00Z'),
        seed: 'least-privilege',
      }),
    ];
    const result = await ingestEvents(ingestDeps(api), { events }, ADMIN);
    expect(result).toMatchObject({ written: 400, failed: [] });
    // Again: every id is found recorded by the consistent BatchGetItem of the id records.
    expect(await ingestEvents(ingestDeps(api), { events }, ADMIN)).toMatchObject({ alreadyStored: 400 });

    const created = await createToken(
      tokenOperationDeps(api),
      { name: 'robot', scopes: ['exports:read'] },
      ADMIN,
    );
    const principal = await authenticate(created.token, as('authorizer').tokenStore);
    expect(principal).toMatchObject({ name: 'robot', scopes: ['exports:read'] });
  });

  it('a JSON export delivered to a customer bucket runs every step within its grants', async () => {
    const api = as('api');
    const { job } = await createExport(
      exportOperationDeps(api),
      {
        from: '2026-04-01T00:00:00Z',
        to: '2026-04-02T23:59:59Z',
        format: 'json',
        delivery: { s3Bucket: customerBucket, s3Prefix: 'evidence/' },
      },
      ADMIN,
    );
    await runWorkflow();
    const done = (await base.jobStore.getJob(job.id))!.value;
    expect(done.status).toBe('completed');
    expect(done.delivery).toMatchObject({ status: 'delivered' });

    // What the API then serves of it: the manifest, a download URL, the audit trail and checkpoint.
    await getExportManifest(exportOperationDeps(api), job.id, ADMIN);
    const download = await downloadExport(exportOperationDeps(api), job.id, ADMIN);
    expect(download.url).toContain(artifactKeyOf(done));
    await listAuditEntries(auditReadDeps(api), { subject: job.id }, ADMIN);
    await latestAuditCheckpoint(auditReadDeps(api), ADMIN);
    await deleteExport(exportOperationDeps(api), job.id, ADMIN);
  }, 120_000);

  it('a PDF export (RenderReport) runs every step within its grants', async () => {
    const { job } = await createExport(
      exportOperationDeps(as('api')),
      { from: '2026-04-01T00:00:00Z', to: '2026-04-01T11:59:59Z', format: 'pdf' },
      ADMIN,
    );
    await runWorkflow();
    expect((await base.jobStore.getJob(job.id))!.value.status).toBe('completed');
    expect(calls.some((call) => call.fn === 'renderReport' && call.resource.endsWith('.pdf'))).toBe(true);
    expect(
      calls.some((call) => call.fn === 'exportPage' && call.resource.endsWith(companionKeyOf(job))),
    ).toBe(true);
  }, 120_000);

  it('a failing export ends in MarkFailed, which aborts the upload and records the failure within its grants', async () => {
    const { job } = await createExport(
      exportOperationDeps(as('api')),
      { from: '2026-04-01T00:00:00Z', to: '2026-04-02T23:59:59Z', format: 'csv' },
      ADMIN,
    );
    await runWorkflow({ exportPageFails: true });
    expect((await base.jobStore.getJob(job.id))!.value.status).toBe('failed');
    expect(calls.some((call) => call.fn === 'markFailed' && call.action === 's3:AbortMultipartUpload')).toBe(
      true,
    );
  }, 120_000);

  it('a cancelled export: the API cancels it, and the steps that find it cancelled stop within their grants', async () => {
    const { job } = await createExport(
      exportOperationDeps(as('api')),
      { from: '2026-04-01T00:00:00Z', to: '2026-04-02T23:59:59Z', format: 'csv' },
      ADMIN,
    );
    await runWorkflow({ cancelDuringExportPage: job.id });
    expect((await base.jobStore.getJob(job.id))!.value.status).toBe('cancelled');
    // ExportPage aborted the upload again; the execution, not stopped here, ended in MarkFailed,
    // which kept the export cancelled.
    expect(calls.some((call) => call.fn === 'api' && call.action === 's3:AbortMultipartUpload')).toBe(true);
    expect(calls.some((call) => call.fn === 'exportPage' && call.action === 's3:AbortMultipartUpload')).toBe(true);
    expect(await base.artifactStore.openUploads(`exports/${job.id}/`)).toEqual([]);
  }, 120_000);

  it('a schedule fires through the scheduled function within its grants', async () => {
    await createSchedule(
      scheduleOperationDeps(as('api')),
      { name: 'daily-evidence', cron: '0 6 * * *', window: '1d', format: 'csv' },
      ADMIN,
    );
    const run = await fireSchedule(
      scheduleOperationDeps(as('scheduled')),
      'daily-evidence',
      new Date('2026-04-02T06:00:00Z'),
    );
    expect(run?.created).toBe(true);
    await runWorkflow();
    expect((await base.jobStore.getJob(run!.job.id))!.value.status).toBe('completed');
  }, 120_000);

  it('covered every function, with audit checkpoints written wherever the trail is appended to', () => {
    const fns = new Set(calls.map((call) => call.fn));
    expect([...fns].sort()).toEqual((Object.keys(FUNCTIONS) as FunctionName[]).sort());
    const checkpointWriters = new Set(
      calls
        .filter(
          (call) =>
            call.action === 's3:PutObject' && call.resource.startsWith(`Artifacts/${CHECKPOINT_PREFIX}`),
        )
        .map((call) => call.fn),
    );
    expect([...checkpointWriters].sort()).toEqual([
      'api',
      'deliver',
      'markFailed',
      'recordAudit',
      'scheduled',
    ]);
    // Manifests sit beside their artifacts, under the one prefix the grants name.
    expect(
      manifestNameOf(artifactKeyOf({ id: 'exp_1', format: 'json' })).startsWith(EXPORT_OBJECT_PREFIX),
    ).toBe(true);
  });

  it('used every DynamoDB and S3 action it holds (but the API, whose every route is not run here)', () => {
    const unused = (Object.keys(FUNCTIONS) as FunctionName[])
      .filter((fn) => fn !== 'api')
      .flatMap((fn) => {
        const used = new Set(calls.filter((call) => call.fn === fn).map((call) => call.action));
        const held = new Set(
          policy
            .statementsOf(fn)
            .flatMap((statement) => asArray(statement.Action))
            .filter((action) => /^(dynamodb|s3):/.test(action) && action !== 's3:ListBucket'),
        );
        return [...held].filter((action) => !used.has(action)).map((action) => `${fn} ${action}`);
      });
    expect(unused.sort()).toEqual(USED_ONLY_AFTER_A_FAILURE);
  });

  it('every key the adapters sent is of a kind the grants name (CONTROL_ITEM_KEYS, EVENT_ITEM_KEYS)', () => {
    const patterns = [...Object.values(CONTROL_ITEM_KEYS), ...Object.values(EVENT_ITEM_KEYS)];
    const keys = new Set(calls.flatMap((call) => call.leadingKeys ?? []));
    expect(keys.size).toBeGreaterThan(0);
    expect([...keys].filter((key) => !patterns.some((pattern) => globMatches(pattern, key)))).toEqual([]);
  });

  it('refuses what a policy does not allow (the evaluator is not a rubber stamp)', async () => {
    const prepareWorld = as('prepare');
    // The adapters wrap the refusal in their own errors; what was refused is recorded here.
    await expect(prepareWorld.tokenStore.getTokenByHash('0'.repeat(64))).rejects.toThrow();
    await expect(prepareWorld.artifactStore.getDocument(`${CHECKPOINT_PREFIX}latest.json`)).rejects.toThrow();
    await expect(as('finalize').jobStore.listJobs({ limit: 1 })).rejects.toThrow();
    expect(denied.splice(0).map(({ fn, action, resource }) => `${fn} ${action} ${resource}`)).toEqual([
      'prepare dynamodb:GetItem ExportControl',
      `prepare s3:GetObject Artifacts/${CHECKPOINT_PREFIX}latest.json`,
      'finalize dynamodb:Query ExportControl/index/gsi1',
    ]);
  });
});
