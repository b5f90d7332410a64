import { App } from 'aws-cdk-lib';
import { RetentionSettingError } from '../functions/core/export/artifact-retention.ts';
import { DeliverySettingError } from '../functions/core/export/delivery.ts';
import { deliveryBucketsFromContext } from './delivery-context.ts';
import { addNagChecks } from './nag.ts';
import { artifactRetentionFromContext } from './retention-context.ts';
import { KeeptrustsExportStack, STACK_ID } from './stack.ts';

/** The CDK app (`cdk.json`: `npx tsx infra/app.ts`). */
const app = new App();
let artifactRetention: ReturnType<typeof artifactRetentionFromContext>;
let deliveryBuckets: ReturnType<typeof deliveryBucketsFromContext>;
try {
  artifactRetention = artifactRetentionFromContext(app.node);
  deliveryBuckets = deliveryBucketsFromContext(app.node);
} catch (error) {
  if (!(error instanceof RetentionSettingError) && !(error instanceof DeliverySettingError)) throw error;
  // One line, not a stack trace: it is the deployer's setting that is wrong.
  console.error(`error: ${error.message}`);
  process.exit(1);
}
// `-c pdfMaxDetailRows=250000`: the most event rows a PDF report's table shows (default 100,000).
const pdfMaxDetailRows = app.node.tryGetContext('pdfMaxDetailRows') as unknown;
if (pdfMaxDetailRows !== undefined && !/^\d+$/.test(String(pdfMaxDetailRows))) {
  console.error('error: context pdfMaxDetailRows must be a whole number of 0 or more');
  process.exit(1);
}
new KeeptrustsExportStack(app, STACK_ID, {
  ...(pdfMaxDetailRows === undefined ? {} : { workflow: { pdfMaxDetailRows: Number(pdfMaxDetailRows) } }),
  data: {
    ...(artifactRetention === undefined ? {} : { artifactRetention }),
    ...(deliveryBuckets.length === 0 ? {} : { deliveryBuckets }),
  },
});
addNagChecks(app);
app.synth();
