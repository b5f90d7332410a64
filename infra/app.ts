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
// Limits against runaway cost, each a whole number of 1 or more (README "Limits"):
// `-c maxRunningExportsPerPrincipal=5 -c maxExportRecords=10000000 -c maxSchedules=100`, and the
// longest range one export may cover, `-c maxRangeDays=366`.
const limits = {
  maxRunningExportsPerPrincipal: limitFromContext('maxRunningExportsPerPrincipal'),
  maxExportRecords: limitFromContext('maxExportRecords'),
  maxSchedules: limitFromContext('maxSchedules'),
  maxRangeDays: limitFromContext('maxRangeDays'),
};
new KeeptrustsExportStack(app, STACK_ID, {
  workflow: {
    ...(pdfMaxDetailRows === undefined ? {} : { pdfMaxDetailRows: Number(pdfMaxDetailRows) }),
    ...(limits.maxExportRecords === undefined ? {} : { maxExportRecords: limits.maxExportRecords }),
  },
  ...(limits.maxRunningExportsPerPrincipal === undefined
    ? {}
    : { api: { maxRunningExportsPerPrincipal: limits.maxRunningExportsPerPrincipal } }),
  ...(limits.maxSchedules === undefined ? {} : { scheduling: { maxSchedules: limits.maxSchedules } }),
  ...(limits.maxRangeDays === undefined ? {} : { maxRangeDays: limits.maxRangeDays }),
  data: {
    ...(artifactRetention === undefined ? {} : { artifactRetention }),
    ...(deliveryBuckets.length === 0 ? {} : { deliveryBuckets }),
  },
});
addNagChecks(app);

function limitFromContext(key: string): number | undefined {
  const raw = app.node.tryGetContext(key) as unknown;
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(String(raw).trim()) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    console.error(`error: context ${key} must be a whole number of 1 or more`);
    process.exit(1);
  }
  return Number(raw);
}
app.synth();
