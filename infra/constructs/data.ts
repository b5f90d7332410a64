import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CHECKPOINT_PREFIX } from '../../functions/core/audit/checkpoint.ts';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct, type IConstruct } from 'constructs';
import {
  type ArtifactRetention,
  MAX_ARTIFACT_RETENTION_DAYS,
} from '../../functions/core/export/artifact-retention.ts';
import type { DeliveryBucket } from '../../functions/core/export/delivery.ts';
import { deliveryBucketsEnvironment } from '../../functions/adapters/runtime-config.ts';
import {
  DECISION_EVENTS_TABLE,
  EXPORT_CONTROL_TABLE,
  type KeyAttribute,
  type TableLayout,
} from '../../functions/adapters/dynamodb/tables.ts';

/** Item-level reads. No Scan: every access path in the design is a key lookup or a Query. */
const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
];
const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
/** Decrypt reads data under the key; Encrypt and GenerateDataKey write new data under it. */
const KEY_READ_ACTIONS = ['kms:Decrypt'];
const KEY_WRITE_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey'];
/**
 * What S3 asks of the caller's key permissions when it writes an SSE-KMS object: a data key for
 * every object, and Decrypt as well for a multipart upload (S3 decrypts the upload's data key to
 * complete it). S3 never calls kms:Encrypt for the caller.
 */
const ARTIFACT_KEY_WRITE_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];
/** PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload. */
const ARTIFACT_WRITE_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload'];

/**
 * What the compute constructs need from the data layer: the resources, and grants scoped to
 * exactly the actions each caller needs.
 */
export interface IExportData {
  readonly eventsTable: dynamodb.ITable;
  readonly controlTable: dynamodb.ITable;
  readonly artifactBucket: s3.IBucket;
  /** The artifact bucket's Object Lock default retention, if any: the API refuses deletes while it holds. */
  readonly artifactRetention?: ArtifactRetention;
  /**
   * The environment variables a function reads to find these resources (EVENTS_TABLE,
   * CONTROL_TABLE, ARTIFACT_BUCKET: functions/adapters/runtime-config.ts).
   */
  runtimeEnvironment(): Record<string, string>;
  /** Read and write decision events (the table and its GSIs). */
  grantEventsReadWrite(grantee: iam.IGrantable): iam.Grant;
  /** Read decision events only: GetItem, BatchGetItem, Query, ConditionCheckItem (table and GSIs). */
  grantEventsRead(grantee: iam.IGrantable): iam.Grant;
  /** Single-item reads of the control table only (token lookup by the authorizer). */
  grantControlGetItem(grantee: iam.IGrantable): iam.Grant;
  /** Read and write jobs, schedules, tokens and audit entries (the table and its GSI). */
  grantControlReadWrite(grantee: iam.IGrantable): iam.Grant;
  /** Read, write and delete artifact objects and list the artifact bucket. */
  grantArtifactsReadWrite(grantee: iam.IGrantable): iam.Grant;
  /** Read artifact objects (GetObject, which also covers HEAD and presigned GET URLs) and list the bucket. */
  grantArtifactsRead(grantee: iam.IGrantable): iam.Grant;
  /** Write artifact objects, multipart included, and abort multipart uploads. Never read or delete. */
  grantArtifactsWrite(grantee: iam.IGrantable): iam.Grant;
  /** Delete artifact objects (a delete marker: the bucket is versioned). Never read or write. */
  grantArtifactsDelete(grantee: iam.IGrantable): iam.Grant;
  /** Write signed audit checkpoints (`audit/checkpoints/*` only), as audit appends do. */
  grantAuditCheckpointsWrite(grantee: iam.IGrantable): iam.Grant;
  /** Customer buckets exports may be delivered to, each with its owning account. */
  readonly deliveryBuckets: readonly DeliveryBucket[];
  /**
   * Write (PutObject, AbortMultipartUpload) the objects of each allow-listed delivery bucket, only
   * while it is owned by its listed account. Nothing when the list is empty.
   */
  grantDeliveryWrite(grantee: iam.IGrantable): void;
}

export interface ExportDataProps {
  /**
   * The customer-managed KMS key that encrypts both tables and the artifact bucket.
   * @default - a new symmetric key with yearly automatic rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long noncurrent artifact versions (overwritten or deleted objects) are kept.
   * @default Duration.days(30)
   */
  readonly noncurrentArtifactRetention?: Duration;
  /**
   * How long S3 server access logs of the artifact bucket are kept.
   * @default Duration.days(365)
   */
  readonly accessLogRetention?: Duration;
  /**
   * S3 Object Lock on the artifact bucket: every artifact (and manifest and audit checkpoint)
   * is kept unchanged for `days` after it is written, in governance mode (an account
   * administrator with s3:BypassGovernanceRetention may still remove it) or compliance mode (no
   * one may, root included, and the period cannot be shortened). Enabling it on an existing
   * deployment needs care: see the README's "Deploy to AWS".
   * @default - none: no Object Lock
   */
  readonly artifactRetention?: ArtifactRetention;
  /**
   * Customer buckets exports may be delivered to (`kt export create --s3-bucket`), each with the
   * account that owns it: requests name only these, every S3 call to them carries the account as
   * ExpectedBucketOwner, and the Deliver function may write only to them while that account owns
   * them. Each bucket's policy must also allow the Deliver function's role to write.
   * @default - none: requests to deliver are refused
   */
  readonly deliveryBuckets?: readonly DeliveryBucket[];
}

/**
 * The data layer: the DecisionEvents and ExportControl tables, built from the same layouts the
 * local stack uses (functions/adapters/dynamodb/tables.ts), and the artifact bucket with its
 * server-access-log bucket.
 *
 * Encryption: one customer-managed KMS key (rotated yearly) for the tables and the artifacts. The
 * data is compliance evidence, so the security team owns who may decrypt it (key policy and the
 * IAM grants below, each use visible per key in CloudTrail), can revoke access by disabling the
 * key, and can share it with an organisation-wide key by passing `encryptionKey`. An AWS managed
 * key offers none of that; the cost is one key (about 1 USD a month) and bucket keys keep the
 * S3 request charges low.
 *
 * Both tables and the bucket are retained on stack deletion and the tables have deletion
 * protection: DecisionEvents is the evidence itself and ExportControl holds the audit chain.
 */
export class ExportData extends Construct implements IExportData {
  readonly encryptionKey: kms.IKey;
  readonly eventsTable: dynamodb.Table;
  readonly controlTable: dynamodb.Table;
  readonly artifactBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly artifactRetention?: ArtifactRetention;
  readonly deliveryBuckets: readonly DeliveryBucket[];
  /** Principals that already carry the acknowledgment for the artifact-object wildcard. */
  private readonly objectWildcardAcknowledged = new WeakSet<IConstruct>();

  constructor(scope: Construct, id: string, props: ExportDataProps = {}) {
    super(scope, id);
    // Deliver server access logs through a bucket policy for logging.s3.amazonaws.com instead
    // of the legacy LogDeliveryWrite ACL (ACLs stay disabled). Set here, before any child
    // exists, so the construct behaves the same whatever the app's cdk.json says.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: 'Keeptrusts Export: decision events, export control data and artifacts at rest',
        enableKeyRotation: true,
        pendingWindow: Duration.days(30),
        removalPolicy: RemovalPolicy.RETAIN,
      });

    this.eventsTable = this.tableFromLayout('DecisionEvents', DECISION_EVENTS_TABLE);
    this.controlTable = this.tableFromLayout('ExportControl', EXPORT_CONTROL_TABLE);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // S3 server access log delivery supports only SSE-S3 on the target bucket. (cdk-nag S1 does not
      // ask a bucket that is itself an access-log target to log its own access.)
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: props.accessLogRetention ?? Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.artifactRetention = props.artifactRetention;
    this.deliveryBuckets = [...(props.deliveryBuckets ?? [])];
    this.artifactBucket = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      ...objectLock(props.artifactRetention),
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts/',
      // Under Object Lock these rules stay valid: S3 expires a noncurrent version only once its
      // retention has ended, and an export's artifact becomes noncurrent only when the API deletes
      // it, which it refuses until then. Overwritten objects (audit/checkpoints/latest.json) keep
      // their locked versions for the retention period: small JSON documents.
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentArtifactRetention ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  runtimeEnvironment(): Record<string, string> {
    return {
      EVENTS_TABLE: this.eventsTable.tableName,
      CONTROL_TABLE: this.controlTable.tableName,
      ARTIFACT_BUCKET: this.artifactBucket.bucketName,
      // The API checks requests against the allow-list; Deliver looks up each bucket's owner in it.
      ...deliveryBucketsEnvironment(this.deliveryBuckets),
    };
  }

  grantEventsReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantTable(grantee, this.eventsTable, DECISION_EVENTS_TABLE, [
      ...TABLE_READ_ACTIONS,
      ...TABLE_WRITE_ACTIONS,
    ]).combine(this.grantKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]));
  }

  grantEventsRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantTable(grantee, this.eventsTable, DECISION_EVENTS_TABLE, TABLE_READ_ACTIONS).combine(
      this.grantKey(grantee, KEY_READ_ACTIONS),
    );
  }

  grantControlGetItem(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.controlTable.tableArn],
    }).combine(this.grantKey(grantee, KEY_READ_ACTIONS));
  }

  grantControlReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantTable(grantee, this.controlTable, EXPORT_CONTROL_TABLE, [
      ...TABLE_READ_ACTIONS,
      ...TABLE_WRITE_ACTIONS,
    ]).combine(this.grantKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]));
  }

  /**
   * Object reads, writes, deletes and multipart aborts on the artifact bucket's objects, listing
   * of the bucket (so a missing artifact reads as 404, not 403), and use of the key.
   *
   * Object keys are chosen at run time (one per export), so the object statements of every
   * artifact grant end in `/*`; each grant records the cdk-nag acknowledgment for exactly that
   * finding on the grantee.
   */
  grantArtifactsReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantArtifactObjects(grantee, [
      's3:GetObject',
      's3:PutObject',
      's3:DeleteObject',
      's3:AbortMultipartUpload',
    ])
      .combine(this.grantArtifactListing(grantee))
      .combine(this.grantKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]));
  }

  grantArtifactsRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantArtifactObjects(grantee, ['s3:GetObject'])
      .combine(this.grantArtifactListing(grantee))
      .combine(this.grantKey(grantee, KEY_READ_ACTIONS));
  }

  grantArtifactsWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantArtifactObjects(grantee, ARTIFACT_WRITE_ACTIONS).combine(
      this.grantKey(grantee, ARTIFACT_KEY_WRITE_ACTIONS),
    );
  }

  /** A delete only adds a delete marker (no data is encrypted or read), so no key use. */
  grantArtifactsDelete(grantee: iam.IGrantable): iam.Grant {
    return this.grantArtifactObjects(grantee, ['s3:DeleteObject']);
  }

  grantAuditCheckpointsWrite(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject'],
      resourceArns: [this.artifactBucket.arnForObjects(`${CHECKPOINT_PREFIX}*`)],
    });
    const principal: unknown = grantee.grantPrincipal;
    if (isConstruct(principal)) {
      const bucketId = logicalIdOf(this.artifactBucket.node.defaultChild as CfnElement);
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${CHECKPOINT_PREFIX}*]`,
        reason:
          'Checkpoints are named by the audit seq they sign, known only at run time; the wildcard is ' +
          'confined to the audit/checkpoints/ prefix of the artifact bucket, and to PutObject.',
      });
    }
    return grant.combine(this.grantKey(grantee, ARTIFACT_KEY_WRITE_ACTIONS));
  }

  grantDeliveryWrite(grantee: iam.IGrantable): void {
    for (const { bucket, account } of this.deliveryBuckets) {
      const objects = `arn:aws:s3:::${bucket}/*`;
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: [objects],
          // The IAM side of ExpectedBucketOwner: a bucket of this name in any other account is out of reach.
          conditions: { StringEquals: { 's3:ResourceAccount': account } },
        }),
      );
      const principal: unknown = grantee.grantPrincipal;
      if (isConstruct(principal)) {
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${objects}]`,
          reason:
            `Delivered objects are named per export (<prefix><export id>.<format> and its manifest) at run ` +
            `time; the wildcard is confined to the objects of the allow-listed delivery bucket ${bucket}, to ` +
            `PutObject and AbortMultipartUpload, and to account ${account} by an s3:ResourceAccount condition.`,
        });
      }
    }
  }

  private grantArtifactObjects(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.artifactBucket.arnForObjects('*')],
    });
    const principal: unknown = grantee.grantPrincipal;
    if (isConstruct(principal) && !this.objectWildcardAcknowledged.has(principal)) {
      this.objectWildcardAcknowledged.add(principal);
      const bucketId = logicalIdOf(this.artifactBucket.node.defaultChild as CfnElement);
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
        reason:
          'Artifact objects are named per export at run time; the wildcard is confined to the objects ' +
          'of this one artifact bucket, and each statement to the object actions this role needs ' +
          '(get, put, delete or abort-multipart).',
      });
    }
    return grant;
  }

  /** ListBucket on the bucket itself: a missing artifact then reads as 404, not 403. */
  private grantArtifactListing(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.artifactBucket.bucketArn],
    });
  }

  private tableFromLayout(id: string, layout: TableLayout): dynamodb.Table {
    const table = new dynamodb.Table(this, id, {
      partitionKey: attribute(layout.partitionKey),
      sortKey: attribute(layout.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of layout.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }

  /** The table and each of its named indexes: no `index/*` wildcard. */
  private grantTable(
    grantee: iam.IGrantable,
    table: dynamodb.Table,
    layout: TableLayout,
    actions: string[],
  ): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [
        table.tableArn,
        ...layout.indexes.map((index) => `${table.tableArn}/index/${index.indexName}`),
      ],
    });
  }

  private grantKey(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return this.encryptionKey.grant(grantee, ...actions);
  }
}

/** Object Lock needs versioning, which the artifact bucket always has. */
function objectLock(retention: ArtifactRetention | undefined): Partial<s3.BucketProps> {
  if (retention === undefined) return {};
  if (
    !Number.isInteger(retention.days) ||
    retention.days < 1 ||
    retention.days > MAX_ARTIFACT_RETENTION_DAYS
  ) {
    throw new Error(
      `artifactRetention.days must be a whole number from 1 to ${MAX_ARTIFACT_RETENTION_DAYS}, not ${retention.days}`,
    );
  }
  const period = Duration.days(retention.days);
  return {
    objectLockEnabled: true,
    objectLockDefaultRetention:
      retention.mode === 'COMPLIANCE'
        ? s3.ObjectLockRetention.compliance(period)
        : s3.ObjectLockRetention.governance(period),
  };
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

function isConstruct(value: unknown): value is IConstruct {
  return Construct.isConstruct(value);
}

/** The logical id cdk-nag prints in its findings (`<LogicalId.Arn>`). */
function logicalIdOf(element: CfnElement): string {
  return Stack.of(element).resolve(element.logicalId) as string;
}
