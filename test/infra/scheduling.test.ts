import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { SCHEDULE_MANAGEMENT_ACTIONS } from '../../infra/constructs/scheduling.ts';
import { KeeptrustsExportStack } from '../../infra/stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * Recurring exports on AWS (infra/constructs/scheduling.ts), asserted on the synthesized
 * template with bundling skipped: the group, the scheduled Lambda, the role Scheduler invokes it
 * with (that function only), the encrypted dead-letter queue, and the API's runtime grants.
 */
describe('ExportScheduling', () => {
  let template: Template;
  let outdir: string;
  let stack: KeeptrustsExportStack;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'kt-infra-scheduling-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new KeeptrustsExportStack(app, 'Test', {
      scheduling: { maxSchedules: 50, minIntervalMinutes: 120, deadLetterRetention: Duration.days(7) },
    });
    template = Template.fromStack(stack);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
    stack.getLogicalId(construct.node.defaultChild as never);
  const resources = (type: string): [string, Resource][] =>
    Object.entries(template.findResources(type) as Record<string, Resource>);
  const statementsOf = (roleId: string): Statement[] =>
    resources('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
      .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

  it('has its own schedule group', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
  });

  it('the dead-letter queue is encrypted, TLS-only, and keeps failed fires as configured', () => {
    const queueId = logicalId(stack.scheduling.deadLetterQueue);
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 7 * 86_400,
    });
    const policy = resources('AWS::SQS::QueuePolicy').find(([, p]) => JSON.stringify(p.Properties.Queues).includes(queueId));
    expect(JSON.stringify(policy?.[1].Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });

  it('Scheduler may assume its role only for schedules of this account and group', () => {
    const roleId = logicalId(stack.scheduling.schedulerRole);
    const role = template.findResources('AWS::IAM::Role')[roleId] as Resource;
    const trust = (role.Properties.AssumeRolePolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({
      Principal: { Service: 'scheduler.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: expect.anything() },
    });
    expect(JSON.stringify(trust[0]!.Condition)).toContain(':schedule/');
  });

  it('the scheduler role may invoke the scheduled Lambda and nothing else (and write the DLQ)', () => {
    const roleId = logicalId(stack.scheduling.schedulerRole);
    const fnId = logicalId(stack.scheduling.scheduledFunction.function);
    const statements = statementsOf(roleId);
    const invoke = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('lambda:')));
    expect(invoke).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [fnId, 'Arn'] } },
    ]);
    const others = statements.filter((s) => !invoke.includes(s));
    expect(others.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith('sqs:'))).toBe(true);
    expect(JSON.stringify(others.map((s) => s.Resource))).toContain(logicalId(stack.scheduling.deadLetterQueue));
  });

  it('the scheduled Lambda runs on Node 24 with the tables, the state machine and the settings', () => {
    const fnId = logicalId(stack.scheduling.scheduledFunction.function);
    const fn = template.findResources('AWS::Lambda::Function')[fnId] as Resource;
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['CONTROL_TABLE', 'STATE_MACHINE_ARN', 'SIGNING_KEY_ID', 'MAX_SCHEDULES', 'SCHEDULE_MIN_INTERVAL_MINUTES']),
    );
    expect(variables.MAX_SCHEDULES).toBe('50');
    const actions = statementsOf(logicalId(stack.scheduling.scheduledFunction.role)).flatMap((s) => asArray(s.Action));
    expect(actions).toContain('states:StartExecution');
    expect(actions.some((a) => a.startsWith('scheduler:'))).toBe(false);
  });

  it('the API manages schedules of this group only and passes only the scheduler role, to Scheduler only', () => {
    const apiRoleId = logicalId(stack.api.apiFunction.role);
    const statements = statementsOf(apiRoleId);
    const manage = statements.find((s) => asArray(s.Action).includes('scheduler:CreateSchedule'))!;
    expect([...asArray(manage.Action)].sort()).toEqual([...SCHEDULE_MANAGEMENT_ACTIONS].sort());
    const group = stack.resolve(stack.scheduling.group.scheduleGroupName) as string;
    expect(JSON.stringify(manage.Resource)).toContain(`:schedule/${group}/*`);
    const pass = statements.filter((s) => asArray(s.Action).includes('iam:PassRole'));
    expect(pass).toEqual([
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [logicalId(stack.scheduling.schedulerRole), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
    // Nothing else of Scheduler's: no wildcard actions, no other resources.
    const schedulerActions = statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('scheduler:'));
    expect([...schedulerActions].sort()).toEqual([...SCHEDULE_MANAGEMENT_ACTIONS].sort());
  });

  it('the API knows the group, the target, the role and the dead-letter queue', () => {
    const apiFnId = logicalId(stack.api.apiFunction.function);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SCHEDULE_GROUP_NAME: stack.resolve(stack.scheduling.group.scheduleGroupName),
          SCHEDULED_FUNCTION_ARN: { 'Fn::GetAtt': [logicalId(stack.scheduling.scheduledFunction.function), 'Arn'] },
          SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [logicalId(stack.scheduling.schedulerRole), 'Arn'] },
          SCHEDULE_DLQ_ARN: { 'Fn::GetAtt': [logicalId(stack.scheduling.deadLetterQueue), 'Arn'] },
          SCHEDULE_MIN_INTERVAL_MINUTES: '120',
        }),
      },
    });
    expect(template.findResources('AWS::Lambda::Function')[apiFnId]).toBeDefined();
  });
});
