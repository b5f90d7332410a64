import { App, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  buildExportWorkflow,
  DEFAULT_WORKFLOW_TIMEOUT,
  mapWorkflowSteps,
  WORKFLOW_COMMENT,
  type WorkflowStep,
} from '../constructs/workflow-definition.ts';

/**
 * The fixed, fake ARN the local definition names for a step's function. Nothing calls it: the
 * local runner executes each task through a handler keyed by the state name.
 */
export function localFunctionArn(step: WorkflowStep): string {
  const name = step.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  return `arn:aws:lambda:us-east-1:000000000000:function:keeptrusts-export-${name}`;
}

/**
 * The export workflow as plain Amazon States Language JSON, for aws-local-stepfunctions: the
 * states built by the same `buildExportWorkflow` the CDK stack deploys, with the functions
 * imported by fixed fake ARNs (no bundling, no synthesis), and the same top-level comment,
 * query language and timeout as the deployed state machine with its default props.
 *
 * A fresh object on every call (callers may mutate it; asl-validator does).
 */
export function renderExportWorkflowDefinition(): Record<string, unknown> {
  const stack = new Stack(new App(), 'LocalExportWorkflow');
  const functions = mapWorkflowSteps((step) =>
    lambda.Function.fromFunctionArn(stack, `${step}Function`, localFunctionArn(step)),
  );
  const chain = buildExportWorkflow(stack, functions);
  const graph = new sfn.StateGraph(chain.startState, 'Export workflow');
  graph.timeout = DEFAULT_WORKFLOW_TIMEOUT;
  // As sfn.ChainDefinitionBody renders it for the state machine.
  const definition = stack.resolve({
    ...graph.toGraphJson(sfn.QueryLanguage.JSON_PATH),
    Comment: WORKFLOW_COMMENT,
    QueryLanguage: sfn.QueryLanguage.JSON_PATH,
  }) as Record<string, unknown>;
  const json = JSON.stringify(definition);
  if (Token.isUnresolved(json) || /"(Ref|Fn::[A-Za-z]+)"/.test(json)) {
    throw new Error('The local workflow definition still holds CDK tokens or CloudFormation intrinsics');
  }
  return JSON.parse(json) as Record<string, unknown>;
}
