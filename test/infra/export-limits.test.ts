import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { runtimeConfigFromEnv } from '../../functions/adapters/runtime-config.ts';
import { KeeptrustsExportStack, type KeeptrustsExportStackProps } from '../../infra/stack.ts';

type Resource = { Properties: Record<string, unknown> };

/**
 * The limits against runaway cost reach exactly the functions that enforce them (bundling
 * skipped): the API gets the running-exports limit, ExportPage the records limit, and the
 * variables read back as the limits set.
 */
describe('limits in the stack', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'kt-infra-limits-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  let stacks = 0;
  function synth(props: KeeptrustsExportStackProps) {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    stacks += 1;
    const stack = new KeeptrustsExportStack(app, `Limits${stacks}`, props);
    const template = Template.fromStack(stack);
    const variablesOf = (fn: { node: { defaultChild?: unknown } }) => {
      const id = stack.getLogicalId(fn.node.defaultChild as never);
      const resource = template.findResources('AWS::Lambda::Function')[id] as Resource;
      return (resource.Properties.Environment as { Variables: Record<string, string> }).Variables;
    };
    const everyFunction = Object.values(
      template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
    ).map((fn) => (fn.Properties.Environment as { Variables: Record<string, string> }).Variables);
    return { stack, variablesOf, everyFunction };
  }

  it('sets nothing by default: each limit is its default in the code', () => {
    const { everyFunction } = synth({});
    for (const variables of everyFunction) {
      expect(
        Object.keys(variables).filter((name) => /^MAX_(RUNNING_EXPORTS|EXPORT_RECORDS)/.test(name)),
      ).toEqual([]);
    }
  });

  it('gives the API the running-exports limit and ExportPage the records limit, and no one else', () => {
    const { stack, variablesOf, everyFunction } = synth({
      api: { maxRunningExportsPerPrincipal: 3 },
      workflow: { maxExportRecords: 2_000_000 },
    });
    const api = variablesOf(stack.api.apiFunction.function);
    const exportPage = variablesOf(stack.workflow.functions.exportPage.function);
    expect(api.MAX_RUNNING_EXPORTS_PER_PRINCIPAL).toBe('3');
    expect(exportPage.MAX_EXPORT_RECORDS).toBe('2000000');
    expect(everyFunction.filter((v) => v.MAX_RUNNING_EXPORTS_PER_PRINCIPAL !== undefined)).toHaveLength(1);
    expect(everyFunction.filter((v) => v.MAX_EXPORT_RECORDS !== undefined)).toHaveLength(1);
    const base = { EVENTS_TABLE: 'e', CONTROL_TABLE: 'c', ARTIFACT_BUCKET: 'b' };
    expect(runtimeConfigFromEnv({ ...base, ...api, ...exportPage }).limits).toEqual({
      maxRunningExportsPerPrincipal: 3,
      maxExportRecords: 2_000_000,
    });
  });

  it('gives the longest range to the two functions that accept ranges: the API and the scheduled runs', () => {
    const { stack, variablesOf, everyFunction } = synth({ maxRangeDays: 731 });
    expect(variablesOf(stack.api.apiFunction.function).MAX_RANGE_DAYS).toBe('731');
    expect(variablesOf(stack.scheduling.scheduledFunction.function).MAX_RANGE_DAYS).toBe('731');
    expect(everyFunction.filter((v) => v.MAX_RANGE_DAYS !== undefined)).toHaveLength(2);
    expect(() => synth({ maxRangeDays: 3661 })).toThrow('maxRangeDays must be a whole number of days from 1 to 3660');
  });

  it('refuses a limit that is not a whole number of 1 or more, naming it', () => {
    expect(() => synth({ api: { maxRunningExportsPerPrincipal: 0 } })).toThrow(
      'maxRunningExportsPerPrincipal must be a whole number of 1 or more, not "0"',
    );
    expect(() =>
      runtimeConfigFromEnv({
        EVENTS_TABLE: 'e',
        CONTROL_TABLE: 'c',
        ARTIFACT_BUCKET: 'b',
        MAX_EXPORT_RECORDS: '1.5',
      }),
    ).toThrow('MAX_EXPORT_RECORDS must be a whole number of 1 or more, not "1.5"');
  });
});
