import { ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The customer-managed KMS key that encrypts the stack's CloudWatch Logs: every function's log
 * group, the API access logs and the workflow's execution log.
 *
 * A key of its own, not the data key: the logs hold operational records (request ids, routes,
 * errors, export ids), and whoever reads them (operators) need not be able to decrypt the
 * evidence. Rotated yearly and retained with the stack, since the retained log groups stay
 * encrypted under it.
 *
 * Its policy lets the CloudWatch Logs service of the stack's Region use it (the documented
 * statement for encrypting log groups), only for log groups of this account and Region (the
 * `kms:EncryptionContext:aws:logs:arn` condition): Lambda, API Gateway and Step Functions write
 * through CloudWatch Logs, so no function role needs the key.
 */
export class LogEncryptionKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Keeptrusts Export: CloudWatch Logs (functions, API access logs, workflow executions)',
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsOfThisAccountAndRegion',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': Stack.of(this).formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
  }
}
