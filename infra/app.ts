import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag.ts';
import { KeeptrustsExportStack, STACK_ID } from './stack.ts';

/** The CDK app (`cdk.json`: `npx tsx infra/app.ts`). */
const app = new App();
new KeeptrustsExportStack(app, STACK_ID);
addNagChecks(app);
app.synth();
