import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionLimitExceeded,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { executionArnOf, StepFunctionsWorkflowStarter } from '../../../functions/adapters/sfn/workflow-starter.ts';
import { DependencyError } from '../../../functions/core/errors.ts';
import { rejection } from '../../support/rejection.ts';

const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:keeptrusts-export';
const ID = 'exp_0123456789abcdefghjk';

const sfn = new SFNClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});
const sfnMock = mockClient(sfn);
const starter = new StepFunctionsWorkflowStarter(sfn, ARN);

const meta = { $metadata: { httpStatusCode: 400 } };

beforeEach(() => sfnMock.reset());

describe('StepFunctionsWorkflowStarter', () => {
  it('starts one execution of the state machine named after the export, with {"exportId"} as input', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:${ID}`, startDate: new Date() });
    await expect(starter.startExport(ID)).resolves.toBeUndefined();
    const calls = sfnMock.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toEqual({ stateMachineArn: ARN, name: ID, input: expect.any(String) });
    expect(JSON.parse(input.input!)).toEqual({ exportId: ID });
    expect(input.input).toBe(`{"exportId":"${ID}"}`);
    expect(sfnMock.calls()).toHaveLength(1);
  });

  it('treats ExecutionAlreadyExists as success: the export is already started', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: `Execution Already Exists: '${ARN}:${ID}'`, ...meta }));
    await expect(starter.startExport(ID)).resolves.toBeUndefined();
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('also recognises ExecutionAlreadyExists by its name (as a deserialized service error)', async () => {
    sfnMock.on(StartExecutionCommand).rejects(
      new SFNServiceException({ name: 'ExecutionAlreadyExists', $fault: 'client', message: 'exists', ...meta }),
    );
    await expect(starter.startExport(ID)).resolves.toBeUndefined();
  });

  it.each([
    ['StateMachineDoesNotExist', () => new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', ...meta })],
    ['ExecutionLimitExceeded', () => new ExecutionLimitExceeded({ message: 'too many', ...meta })],
    [
      'a throttle',
      () =>
        new SFNServiceException({
          name: 'ThrottlingException',
          $fault: 'client',
          message: 'Rate exceeded',
          $metadata: { httpStatusCode: 400 },
        }),
    ],
    ['a network error', () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
  ])('turns %s into a DependencyError naming the export, keeping the cause', async (_, make) => {
    const cause = make();
    sfnMock.on(StartExecutionCommand).rejects(cause);
    const error = await rejection(starter.startExport(ID), DependencyError);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain(ID);
    expect(error.code).toBe('unavailable');
  });

  it('does not treat an error merely mentioning ExecutionAlreadyExists in its message as success', async () => {
    const cause = new Error('ExecutionAlreadyExists');
    sfnMock.on(StartExecutionCommand).rejects(cause);
    expect((await rejection(starter.startExport(ID), DependencyError)).cause).toBe(cause);
  });
});

describe('StepFunctionsWorkflowStarter.stopExport', () => {
  const EXECUTION = `arn:aws:states:eu-west-1:123456789012:execution:keeptrusts-export:${ID}`;

  it('stops the execution named after the export, with no error or cause (no KMS needed)', async () => {
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await expect(starter.stopExport(ID)).resolves.toBeUndefined();
    const calls = sfnMock.commandCalls(StopExecutionCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([{ executionArn: EXECUTION }]);
  });

  it('treats ExecutionDoesNotExist as success: a queued export whose start has not happened', async () => {
    sfnMock.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', ...meta }));
    await expect(starter.stopExport(ID)).resolves.toBeUndefined();
  });

  it('turns any other failure into a DependencyError naming the export, keeping the cause', async () => {
    const cause = new SFNServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'no', ...meta });
    sfnMock.on(StopExecutionCommand).rejects(cause);
    const error = await rejection(starter.stopExport(ID), DependencyError);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(`Stopping the export workflow of ${ID} failed.`);
  });

  it('derives execution ARNs in any partition, and refuses what is not a state machine ARN', () => {
    expect(executionArnOf('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:M', 'x')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:execution:M:x',
    );
    expect(() => executionArnOf('arn:aws:states:eu-west-1:123456789012:activity:M', ID)).toThrow(DependencyError);
    expect(() => executionArnOf('keeptrusts-export', ID)).toThrow(DependencyError);
  });
});
