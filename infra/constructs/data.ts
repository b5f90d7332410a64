import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CHECKPOINT_PREFIX } from '../../functions/core/audit/checkpoint.ts';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
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

/**
 * The partition keys of the ExportControl table's items, by kind, as `dynamodb:LeadingKeys`
 * patterns (IAM StringLike). They mirror the keys the adapters write
 * (functions/adapters/dynamodb/*.ts); test/infra/least-privilege.test.ts drives each adapter and
 * checks that every key it sends matches its kind here. A new kind of item needs a line here, and
 * the kind added to the grants of every function that touches it: IAM is not enforced locally, so
 * only AWS would notice a missing one.
 */
export const CONTROL_ITEM_KEYS = {
  /** `EXPORT#<id>`: export jobs. */
  jobs: 'EXPORT#*',
  /** `IDEMPOTENCY#<scope>#<key>`: Idempotency-Key claims of POST /v1/exports. */
  idempotencyKeys: 'IDEMPOTENCY#*',
  /** `TOKEN#<sha256>`: API tokens, under the hash of their secret. */
  tokens: 'TOKEN#*',
  /** `TOKENID#<id>`: the id of each token, to find it by id. */
  tokenIds: 'TOKENID#*',
  /** `SCHEDULE#<name>`: recurring exports. */
  schedules: 'SCHEDULE#*',
  /** `AUDIT`: the audit chain's entries, head and checkpoint record. */
  auditTrail: 'AUDIT',
  /** `RUNNING#<principal>`: each principal's running-export slots. */
  runningExports: 'RUNNING#*',
} as const;
export type ControlItemKind = keyof typeof CONTROL_ITEM_KEYS;

/**
 * The partition keys of the DecisionEvents table's items: the write-once id records (`ID#<id>`)
 * and the day-and-shard partitions of the events themselves (`D#<day>#<shard>`).
 */
export const EVENT_ITEM_KEYS = { eventIds: 'ID#*', events: 'D#*' } as const;

/**
 * The item actions a function may be granted on the control table. No Scan, batch or transaction
 * actions: the adapters send single-item requests and Queries only.
 */
export type ControlItemAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query';
const CONTROL_ITEM_ACTIONS: readonly ControlItemAction[] = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
];
const TABLE_WRITE_ACTIONS: readonly string[] = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

/** Where artifacts, companions and manifests live: `exports/<id>/...` (core/export/export-artifact.ts). */
export const EXPORT_OBJECT_PREFIX = 'exports/';
/** The object actions a function may be granted on `exports/*`. */
export type ExportObjectAction =
  | 's3:GetObject'
  | 's3:PutObject'
  | 's3:DeleteObject'
  | 's3:AbortMultipartUpload';

/** Decrypt reads data under the key; Encrypt and GenerateDataKey write new data under it. */
const KEY_READ_ACTIONS = ['kms:Decrypt'];
const KEY_WRITE_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey'];
/**
 * What S3 asks of the caller's key permissions when it writes an SSE-KMS object: a data key for
 * every object, and Decrypt as well for a multipart upload (S3 decrypts the upload's data key to
 * complete it). S3 never calls kms:Encrypt for the caller.
 */
const ARTIFACT_KEY_WRITE_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

/** Why a role may use `audit/checkpoints/*`: recorded once per role, whichever grant comes first. */
const CHECKPOINT_WILDCARD_REASON =
  'Checkpoints are named by the audit seq they sign, known only at run time; the wildcard is confined ' +
  'to the audit/checkpoints/ prefix of the artifact bucket, and to the object actions this role needs ' +
  'there (put, or get for GET /v1/audit/checkpoint).';

/**
 * What the compute constructs need from the data layer: the resources, and grants scoped to
 * exactly the actions, items and objects each caller needs.
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
  /**
   * Ingest decision events: claim their ids (PutItem, which IAM checks for each Put of a
   * TransactWriteItems, and BatchGetItem, on `ID#*` items only) and
   * write the events (BatchWriteItem on `D#*` items only). No reads of events: Query is not granted.
   */
  grantEventIngest(grantee: iam.IGrantable): iam.Grant;
  /** Query decision events: the table's `D#*` partitions and its team/policy GSIs. Nothing else. */
  grantEventsRead(grantee: iam.IGrantable): iam.Grant;
  /**
   * `actions` on the control table's items of `kinds` only (a `dynamodb:LeadingKeys` condition),
   * and the key actions they need.
   */
  grantControlItems(
    grantee: iam.IGrantable,
    actions: readonly ControlItemAction[],
    kinds: readonly ControlItemKind[],
  ): iam.Grant;
  /** Query the control table's GSIs (job, token and schedule lists; audit entries by subject). */
  grantControlIndexQuery(grantee: iam.IGrantable): iam.Grant;
  /**
   * Every item action the adapters use (Get, Put, Update, Delete, Query) on every item of the
   * control table, and Query on its GSIs: for the API, which serves every kind of item there.
   */
  grantControlReadWrite(grantee: iam.IGrantable): iam.Grant;
  /**
   * `actions` on the objects under `exports/` (artifacts, companions, manifests) and the key use
   * they need. GetObject also covers HEAD and presigned GET URLs, and comes with ListBucket so that
   * a missing object reads as 404, not 403. PutObject covers CreateMultipartUpload, UploadPart and
   * CompleteMultipartUpload. DeleteObject only adds a delete marker (the bucket is versioned).
   */
  grantExportObjects(grantee: iam.IGrantable, actions: readonly ExportObjectAction[]): iam.Grant;
  /** Write signed audit checkpoints (PutObject on `audit/checkpoints/*` only), as audit appends do. */
  grantAuditCheckpointsWrite(grantee: iam.IGrantable): iam.Grant;
  /** Read signed audit checkpoints (GetObject on `audit/checkpoints/*` only): GET /v1/audit/checkpoint. */
  grantAuditCheckpointsRead(grantee: iam.IGrantable): iam.Grant;
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
  /**
   * How long AWS Backup keeps the daily backups of both tables (taken at 03:00 UTC into the
   * stack's own backup vault, encrypted with the data key, their recovery points protected from
   * deletion). Point-in-time recovery (the last 35 days) stays on besides.
   * @default Duration.days(35)
   */
  readonly backupRetention?: Duration;
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
 * protection: DecisionEvents is the evidence itself and ExportControl holds the audit chain. Both
 * tables have point-in-time recovery and daily AWS Backup backups into a retained vault of their own.
 */
export class ExportData extends Construct implements IExportData {
  readonly encryptionKey: kms.IKey;
  readonly eventsTable: dynamodb.Table;
  readonly controlTable: dynamodb.Table;
  readonly artifactBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly artifactRetention?: ArtifactRetention;
  readonly deliveryBuckets: readonly DeliveryBucket[];
  /** The vault and daily plan that back both tables up (AWS Backup). */
  readonly backupVault: backup.BackupVault;
  readonly backupPlan: backup.BackupPlan;
  /** The object prefixes whose wildcard each principal already carries the acknowledgment for. */
  private readonly objectWildcardAcknowledged = new WeakMap<IConstruct, Set<string>>();

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
      // A log deleted by hand (or by a compromised principal) stays recoverable for 30 days as a
      // noncurrent version; S3 never overwrites a log object, so versioning costs nothing else.
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: props.accessLogRetention ?? Duration.days(365),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        // S3 refuses ExpiredObjectDeleteMarker in a rule that also expires by age.
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'HIPAA.Security-S3DefaultEncryptionKMS',
      reason:
        'S3 delivers server access logs only to a target bucket whose default encryption is SSE-S3 ' +
        '(AES256); with SSE-KMS as default the logs would not be delivered. The logs hold request ' +
        'metadata (keys, requesters, status), no artifact contents.',
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'HIPAA.Security-S3BucketReplicationEnabled',
      reason:
        'Cross-Region replication needs a destination bucket in another Region or account, which this ' +
        'single-Region, environment-agnostic stack cannot create; the access logs are versioned (30 days ' +
        'of noncurrent versions) and retained when the stack is deleted.',
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
    Validations.of(this.artifactBucket).acknowledge({
      id: 'HIPAA.Security-S3BucketReplicationEnabled',
      reason:
        'Cross-Region replication needs a destination bucket (and a KMS key) in another Region or ' +
        'account, which this single-Region, environment-agnostic stack cannot create; artifacts are ' +
        'versioned (optionally under Object Lock), retained with the stack, and can be exported again ' +
        'from the DecisionEvents table, which AWS Backup and point-in-time recovery protect.',
    });

    // Daily backups of both tables into a vault of their own, under the data key: unlike
    // point-in-time recovery they outlive the table and the 35-day window, and no one can delete a
    // recovery point before its time (blockRecoveryPointDeletion).
    this.backupVault = new backup.BackupVault(this, 'BackupVault', {
      encryptionKey: this.encryptionKey,
      blockRecoveryPointDeletion: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.backupPlan = new backup.BackupPlan(this, 'BackupPlan', {
      backupVault: this.backupVault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'DailyTables',
          scheduleExpression: events.Schedule.cron({ minute: '0', hour: '3' }),
          deleteAfter: props.backupRetention ?? Duration.days(35),
        }),
      ],
    });
    const selection = this.backupPlan.addSelection('Tables', {
      resources: [
        backup.BackupResource.fromDynamoDbTable(this.eventsTable),
        backup.BackupResource.fromDynamoDbTable(this.controlTable),
      ],
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        "AWS Backup's documented service-role policy for taking backups: AWS keeps it in step with what " +
        'each resource type needs, and only the backup service can assume this role.',
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

  grantEventIngest(grantee: iam.IGrantable): iam.Grant {
    const table = this.eventsTable.tableArn;
    return iam.Grant.addToPrincipal({
      grantee,
      // Claiming ids: TransactWriteItems of conditional puts (authorized as PutItem, item by item),
      // and a consistent BatchGetItem of id records a cancelled claim did not name.
      actions: ['dynamodb:PutItem', 'dynamodb:BatchGetItem'],
      resourceArns: [table],
      conditions: leadingKeys([EVENT_ITEM_KEYS.eventIds]),
    })
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          // The events themselves, written in batches once their ids are claimed.
          actions: ['dynamodb:BatchWriteItem'],
          resourceArns: [table],
          conditions: leadingKeys([EVENT_ITEM_KEYS.events]),
        }),
      )
      .combine(this.grantKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]));
  }

  grantEventsRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [this.eventsTable.tableArn],
      // The day-and-shard partitions only: never the id records.
      conditions: leadingKeys([EVENT_ITEM_KEYS.events]),
    })
      .combine(this.grantIndexQuery(grantee, this.eventsTable, DECISION_EVENTS_TABLE))
      .combine(this.grantKey(grantee, KEY_READ_ACTIONS));
  }

  grantControlItems(
    grantee: iam.IGrantable,
    actions: readonly ControlItemAction[],
    kinds: readonly ControlItemKind[],
  ): iam.Grant {
    if (actions.length === 0 || kinds.length === 0) {
      throw new Error('grantControlItems needs at least one action and one kind of item');
    }
    const writes = actions.some((action) => TABLE_WRITE_ACTIONS.includes(action));
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      resourceArns: [this.controlTable.tableArn],
      conditions: leadingKeys(kinds.map((kind) => CONTROL_ITEM_KEYS[kind])),
    }).combine(
      this.grantKey(grantee, writes ? [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS] : KEY_READ_ACTIONS),
    );
  }

  grantControlIndexQuery(grantee: iam.IGrantable): iam.Grant {
    return this.grantIndexQuery(grantee, this.controlTable, EXPORT_CONTROL_TABLE).combine(
      this.grantKey(grantee, KEY_READ_ACTIONS),
    );
  }

  grantControlReadWrite(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...CONTROL_ITEM_ACTIONS],
      resourceArns: [this.controlTable.tableArn],
    })
      .combine(this.grantIndexQuery(grantee, this.controlTable, EXPORT_CONTROL_TABLE))
      .combine(this.grantKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]));
  }

  /**
   * Object keys are chosen at run time (one folder per export), so the statement ends in
   * `exports/*`; the grant records the cdk-nag acknowledgment for exactly that finding on the grantee.
   */
  grantExportObjects(grantee: iam.IGrantable, actions: readonly ExportObjectAction[]): iam.Grant {
    if (actions.length === 0) throw new Error('grantExportObjects needs at least one action');
    let grant = this.grantObjects(
      grantee,
      EXPORT_OBJECT_PREFIX,
      [...actions],
      'Artifacts, PDF companions and manifests are named per export at run time (exports/<export id>/...); ' +
        'the wildcard is confined to the exports/ prefix of this one artifact bucket, and each statement ' +
        'to the object actions this role needs (get, put, delete or abort-multipart).',
    );
    const keyActions = new Set<string>();
    if (actions.includes('s3:GetObject')) {
      grant = grant.combine(this.grantArtifactListing(grantee));
      for (const action of KEY_READ_ACTIONS) keyActions.add(action);
    }
    if (actions.includes('s3:PutObject')) {
      for (const action of ARTIFACT_KEY_WRITE_ACTIONS) keyActions.add(action);
    }
    // A delete only adds a delete marker, and an abort discards parts: neither encrypts nor reads data.
    return keyActions.size === 0 ? grant : grant.combine(this.grantKey(grantee, [...keyActions]));
  }

  grantAuditCheckpointsWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantObjects(
      grantee,
      CHECKPOINT_PREFIX,
      ['s3:PutObject'],
      CHECKPOINT_WILDCARD_REASON,
    ).combine(this.grantKey(grantee, ARTIFACT_KEY_WRITE_ACTIONS));
  }

  grantAuditCheckpointsRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantObjects(
      grantee,
      CHECKPOINT_PREFIX,
      ['s3:GetObject'],
      CHECKPOINT_WILDCARD_REASON,
    )
      .combine(this.grantArtifactListing(grantee))
      .combine(this.grantKey(grantee, KEY_READ_ACTIONS));
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

  /**
   * `actions` on the artifact bucket's objects under `prefix`, with the cdk-nag acknowledgment for
   * that one wildcard recorded on the grantee (once per prefix).
   */
  private grantObjects(
    grantee: iam.IGrantable,
    prefix: string,
    actions: string[],
    reason: string,
  ): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.artifactBucket.arnForObjects(`${prefix}*`)],
    });
    const principal: unknown = grantee.grantPrincipal;
    if (isConstruct(principal)) {
      const acknowledged = this.objectWildcardAcknowledged.get(principal) ?? new Set<string>();
      this.objectWildcardAcknowledged.set(principal, acknowledged);
      if (!acknowledged.has(prefix)) {
        acknowledged.add(prefix);
        const bucketId = logicalIdOf(this.artifactBucket.node.defaultChild as CfnElement);
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
          reason,
        });
      }
    }
    return grant;
  }

  /** ListBucket on the bucket itself (no objects): a missing object then reads as 404, not 403. */
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

  /** Query on each of the table's named indexes, no `index/*` wildcard (an index is only ever read). */
  private grantIndexQuery(grantee: iam.IGrantable, table: dynamodb.Table, layout: TableLayout): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: layout.indexes.map((index) => `${table.tableArn}/index/${index.indexName}`),
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

/**
 * Every key of the request (all of a batch's) must have one of `patterns` as its partition key.
 * On the base table only: how IAM reads LeadingKeys for a GSI query is not what a reader expects,
 * so index queries are granted in statements of their own.
 */
function leadingKeys(patterns: readonly string[]): Record<string, Record<string, unknown>> {
  return { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...patterns] } };
}

function isConstruct(value: unknown): value is IConstruct {
  return Construct.isConstruct(value);
}

/** The logical id cdk-nag prints in its findings (`<LogicalId.Arn>`). */
function logicalIdOf(element: CfnElement): string {
  return Stack.of(element).resolve(element.logicalId) as string;
}
