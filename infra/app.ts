import { App } from 'aws-cdk-lib';
import { RetentionSettingError } from '../functions/core/export/artifact-retention.ts';
import { addNagChecks } from './nag.ts';
import { artifactRetentionFromContext } from './retention-context.ts';
import { KeeptrustsExportStack, STACK_ID } from './stack.ts';

/** The CDK app (`cdk.json`: `npx tsx infra/app.ts`). */
const app = new App();
let artifactRetention: ReturnType<typeof artifactRetentionFromContext>;
try {
  artifactRetention = artifactRetentionFromContext(app.node);
} catch (error) {
  if (!(error instanceof RetentionSettingError)) throw error;
  // One line, not a stack trace: it is the deployer's setting that is wrong.
  console.error(`error: ${error.message}`);
  process.exit(1);
}
new KeeptrustsExportStack(
  app,
  STACK_ID,
  artifactRetention === undefined ? {} : { data: { artifactRetention } },
);
addNagChecks(app);
app.synth();
