/**
 * The DynamoDB table layouts, as plain data. The CDK stack (infra/) and the local stack's
 * CreateTable calls are both built from these, so the two can never drift apart.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

export interface IndexLayout {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
}

export interface TableLayout {
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  readonly indexes: readonly IndexLayout[];
}

const S = (name: string): KeyAttribute => ({ name, type: 'S' });

/**
 * DecisionEvents. pk = `D#<day>#<shard>` and sk = `<sortable instant>#<id>` so a range query
 * touches only the days in range and no partition takes all of a day's writes. The GSIs
 * partition by team, policy and team+policy per day (and shard) so filtered exports read only
 * matching events. Every index sorts by the same sk, which gives export order directly.
 */
export const DECISION_EVENTS_TABLE: TableLayout = {
  partitionKey: S('pk'),
  sortKey: S('sk'),
  indexes: [
    { indexName: 'byTeam', partitionKey: S('teamPk'), sortKey: S('sk') },
    { indexName: 'byPolicy', partitionKey: S('policyPk'), sortKey: S('sk') },
    { indexName: 'byTeamPolicy', partitionKey: S('teamPolicyPk'), sortKey: S('sk') },
  ],
};

/**
 * ExportControl: one table for export jobs, schedules, API tokens (hashed), audit entries and the
 * audit chain head. gsi1 lists items of a kind newest first (e.g. gsi1pk = `JOBS`,
 * gsi1sk = `<created>#<id>`) without a scan.
 */
export const EXPORT_CONTROL_TABLE: TableLayout = {
  partitionKey: S('pk'),
  sortKey: S('sk'),
  indexes: [{ indexName: 'gsi1', partitionKey: S('gsi1pk'), sortKey: S('gsi1sk') }],
};
