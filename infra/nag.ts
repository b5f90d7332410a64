import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Registers cdk-nag's AwsSolutions pack as a policy-validation plugin (cdk-nag v3): it runs at
 * synthesis, and an unacknowledged error fails `cdk synth`. Findings are acknowledged where
 * they arise, with `Validations.of(construct).acknowledge({ id: 'Rule[Finding]', reason })`, and
 * written into the template metadata (`cdk_nag.rules_to_suppress`) as an audit trail.
 *
 * Returns the pack so tests can also call `validateScope` on the app.
 */
export function addNagChecks(app: IConstruct): AwsSolutionsChecks {
  const pack = new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
  Validations.of(app).addPlugins(pack);
  return pack;
}
