import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { bundledFontName, reportFontPaths } from '../../functions/adapters/fonts/report-font-files.ts';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { addNagChecks } from '../../infra/nag.ts';
import { KeeptrustsExportStack, type KeeptrustsExportStackProps, STACK_ID } from '../../infra/stack.ts';

/** Every finding of every pack, as `{ pack, rule, severity, resources }`: [] when all is clean or acknowledged. */
function findingsOf(packs: readonly NagPack[], scope: IConstruct) {
  return packs.flatMap((pack) =>
    pack.validateScope(scope).violations.map((violation) => ({
      pack: pack.readPackName,
      rule: violation.ruleName,
      severity: violation.severity,
      resources: violation.violatingResources.map((resource) => resource.constructPath),
    })),
  );
}

/** Every acknowledgment made in the tree, with the construct it was made on. */
function acknowledgmentsIn(scope: IConstruct): { on: IConstruct; id: string; reason: string }[] {
  const found: { on: IConstruct; id: string; reason: string }[] = [];
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ on: construct, id: key.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

/** AwsSolutions findings are always acknowledged one by one; HIPAA rules without findings per resource. */
const ACKNOWLEDGMENT_ID = /^(AwsSolutions-[A-Z]+\d+\[.+\]|HIPAA\.Security-[A-Za-z0-9]+(\[.+\])?)$/;

/**
 * The real app, assets bundled by the local esbuild, checked by cdk-nag's AwsSolutions and HIPAA
 * Security packs.
 *
 * cdk-nag v3 is a policy-validation plugin: it reports violations to the synthesis (which fails
 * on an unacknowledged error) instead of adding annotations. So the test (1) synthesizes, which
 * runs both packs, (2) asks each pack directly for its report, and (3) still checks that the stack
 * carries no nag (or any other) error annotations and no nag warnings.
 */
describe('cdk-nag AwsSolutions and HIPAA Security on the real app', () => {
  let app: App;
  let stack: Stack;
  let packs: readonly NagPack[];
  let assembly: CloudAssembly;

  beforeAll(() => {
    app = new App(); // bundling for every stack (the default), as `cdk synth` does
    stack = new KeeptrustsExportStack(app, STACK_ID);
    packs = addNagChecks(app);
    assembly = app.synth(); // throws "Validation failed" on an unacknowledged nag error
  });

  it('registers both packs', () => {
    expect(packs.map((pack) => pack.readPackName)).toEqual(['AwsSolutions', 'HIPAA.Security']);
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

  it('reports no unacknowledged errors or warnings, in either pack', () => {
    expect(findingsOf(packs, app)).toEqual([]);
    for (const pack of packs) expect(pack.validateScope(app).success).toBe(true);
  });

  it('acknowledges on the resource (or the construct owning it), never on the app or the stack', () => {
    const acknowledgments = acknowledgmentsIn(app);
    expect(acknowledgments.some(({ id }) => id.startsWith('HIPAA.Security-'))).toBe(true);
    for (const { on, id, reason } of acknowledgments) {
      expect({ id, on: on.node.path }).toEqual({ id: expect.stringMatching(ACKNOWLEDGMENT_ID), on: expect.any(String) });
      expect(on).not.toBe(app);
      expect(Stack.isStack(on)).toBe(false);
      expect(reason.length).toBeGreaterThan(40);
    }
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
      // AwsSolutions: always one finding, never a whole rule; HIPAA: per resource.
      expect(id).toMatch(ACKNOWLEDGMENT_ID);
      expect(reason.length).toBeGreaterThan(40);
    }
    expect(acknowledged.some(({ id }) => id.startsWith('HIPAA.Security-'))).toBe(true);
  });

  it('leaves no nag annotations and no CDK errors', () => {
    const annotations = Annotations.fromStack(stack);
    for (const pack of ['AwsSolutions-.*', 'HIPAA\\.Security-.*']) {
      expect(annotations.findError('*', Match.stringLikeRegexp(pack))).toEqual([]);
      expect(annotations.findWarning('*', Match.stringLikeRegexp(pack))).toEqual([]);
    }
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
  });
});

/** Variants, bundling skipped: the rules read the template, not the code. */
describe.each([
  ['S3 Object Lock on the artifact bucket', { data: { artifactRetention: { mode: 'COMPLIANCE', days: 2555 } } }],
  [
    'delivery buckets allowed (each bucket-object wildcard of Deliver acknowledged with its reason)',
    { data: { deliveryBuckets: [{ bucket: 'compliance-artifacts', account: '111122223333' }] } },
  ],
  [
    'both, and every setting of the stack changed',
    {
      data: {
        artifactRetention: { mode: 'GOVERNANCE', days: 90 },
        deliveryBuckets: [{ bucket: 'compliance-artifacts', account: '111122223333', region: 'us-east-1' }],
      },
      api: { throttle: { rateLimit: 20, burstLimit: 40 } },
      signing: { retiredKeyArns: ['arn:aws:kms:eu-west-1:123456789012:key/0b7d4c1e-5a8f-4e2b-9c3d-6f1a2b3c4d5e'] },
      scheduling: { scheduleGroupName: 'keeptrusts-exports' },
    },
  ],
] as [string, KeeptrustsExportStackProps][])('cdk-nag AwsSolutions and HIPAA Security with %s', (_name, props) => {
  it('reports no unacknowledged findings in either pack', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new KeeptrustsExportStack(app, STACK_ID, props);
    const packs = addNagChecks(app);
    expect(findingsOf(packs, app)).toEqual([]);
    for (const { id, reason } of acknowledgmentsIn(app)) {
      expect(id).toMatch(ACKNOWLEDGMENT_ID);
      expect(reason.length).toBeGreaterThan(40);
    }
  });
});

describe('cdk-nag with an automation role granted routes of the IAM API', () => {
  it('acknowledges each route ARN with a path parameter on the grantee, and nothing wider', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new KeeptrustsExportStack(app, STACK_ID);
    const role = new iam.Role(stack, 'Automation', { assumedBy: new iam.AccountRootPrincipal() });
    stack.api.grantInvoke(role, 'POST /v1/exports', 'GET /v1/exports/{id}', 'GET /v1/exports/{id}/download');
    const [awsSolutions] = addNagChecks(app);
    expect(findingsOf([awsSolutions!], app)).toEqual([]);
    const onRole = acknowledgmentsIn(role).map(({ id }) => id);
    expect(onRole).toHaveLength(2); // POST /v1/exports has no wildcard to acknowledge
    expect(onRole.every((id) => /^AwsSolutions-IAM5\[Resource::arn:.*\/\$default\/GET\/v1\/exports\/\*/.test(id))).toBe(
      true,
    );
  });
});
