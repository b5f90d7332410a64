import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { bundledFontName, reportFontPaths } from '../../functions/adapters/fonts/report-font-files.ts';
import { App, type Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { AwsSolutionsChecks } from 'cdk-nag';
import { addNagChecks } from '../../infra/nag.ts';
import { KeeptrustsExportStack, STACK_ID } from '../../infra/stack.ts';

/**
 * The real app, assets bundled by the local esbuild, checked by cdk-nag's AwsSolutions pack.
 *
 * cdk-nag v3 is a policy-validation plugin: it reports violations to the synthesis (which fails
 * on an unacknowledged error) instead of adding annotations. So the test (1) synthesizes, which
 * runs the plugin, (2) asks the pack directly for its report, and (3) still checks that the stack
 * carries no AwsSolutions (or any other) error annotations and no AwsSolutions warnings.
 */
describe('cdk-nag AwsSolutions on the real app', () => {
  let app: App;
  let stack: Stack;
  let pack: AwsSolutionsChecks;
  let assembly: CloudAssembly;

  beforeAll(() => {
    app = new App(); // bundling for every stack (the default), as `cdk synth` does
    stack = new KeeptrustsExportStack(app, STACK_ID);
    pack = addNagChecks(app);
    assembly = app.synth(); // throws "Validation failed" on an unacknowledged nag error
  });

  afterAll(() => {
    if (assembly && existsSync(assembly.directory))
      rmSync(assembly.directory, { recursive: true, force: true });
  });

  it('bundles every handler (api, authorizer, scheduled, seven workflow steps) as ESM with source maps', () => {
    const assetDirs = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    expect(assetDirs).toHaveLength(10);
    const withFonts: string[] = [];
    for (const dir of assetDirs) {
      const files = readdirSync(path.join(assembly.directory, dir)).sort();
      if (files.includes('fonts')) withFonts.push(dir);
      expect(files.filter((name) => name !== 'fonts')).toEqual(['index.mjs', 'index.mjs.map']);
    }
    // RenderReport's bundle alone carries the report's fonts, read at run time from fonts/.
    expect(withFonts).toHaveLength(1);
    expect(readdirSync(path.join(assembly.directory, withFonts[0]!, 'fonts')).sort()).toEqual(
      reportFontPaths()
        .map((file) => bundledFontName(file))
        .sort(),
    );
  });

  it('keeps class names in the minified bundles (Step Functions matches Retry on the error name)', () => {
    const assetDirs = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    for (const dir of assetDirs) {
      const code = readFileSync(path.join(assembly.directory, dir, 'index.mjs'), 'utf8');
      expect(code).toContain('"DependencyError"');
    }
  });

  it('reports no unacknowledged errors or warnings', () => {
    const report = pack.validateScope(app);
    const findings = report.violations.map((violation) => ({
      rule: violation.ruleName,
      severity: violation.severity,
      resources: violation.violatingResources.map((resource) => resource.constructPath),
    }));
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('records every acknowledgment with its reason in the template metadata', () => {
    const resources = assembly.getStackByName(stack.stackName).template.Resources as Record<
      string,
      { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }
    >;
    const acknowledged = Object.values(resources).flatMap(
      (r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? [],
    );
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).toMatch(/^AwsSolutions-[A-Z]+\d+\[.+\]$/); // always one finding, never a whole rule
      expect(reason.length).toBeGreaterThan(40);
    }
  });

  it('leaves no AwsSolutions annotations and no CDK errors', () => {
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions with S3 Object Lock on the artifact bucket', () => {
  it('reports no findings (bundling skipped: the rules read the template, not the code)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new KeeptrustsExportStack(app, STACK_ID, {
      data: { artifactRetention: { mode: 'COMPLIANCE', days: 2555 } },
    });
    const report = addNagChecks(app).validateScope(app);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('cdk-nag AwsSolutions with delivery buckets allowed', () => {
  it('reports no findings: each bucket-object wildcard of Deliver is acknowledged with its reason', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new KeeptrustsExportStack(app, STACK_ID, {
      data: { deliveryBuckets: [{ bucket: 'compliance-artifacts', account: '111122223333' }] },
    });
    const report = addNagChecks(app).validateScope(app);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });
});
