import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Registers cdk-nag's AwsSolutions and HIPAA Security packs as policy-validation plugins (cdk-nag
 * v3): both run at synthesis, and an unacknowledged error of either fails `cdk synth`. Findings
 * are acknowledged where they arise, on the resource (or the construct owning it), with
 * `Validations.of(construct).acknowledge({ id: 'Rule[Finding]', reason })` (a rule that reports no
 * finding is acknowledged by its id alone, still on that one resource), and written into the
 * template metadata (`cdk_nag.rules_to_suppress`) as an audit trail.
 *
 * Returns the packs so tests can also call `validateScope` on the app.
 */
export function addNagChecks(app: IConstruct): readonly NagPack[] {
  const packs = [
    // One of them writes the acknowledgments into the template; both read the same ones.
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    new HIPAASecurityChecks(app, { verbose: true }),
  ];
  Validations.of(app).addPlugins(...packs);
  return packs;
}
