import type { Node } from 'constructs';
import {
  type ArtifactRetention,
  artifactRetentionFrom,
} from '../functions/core/export/artifact-retention.ts';

/** The CDK context keys that turn on S3 Object Lock for the artifact bucket. */
export const RETENTION_CONTEXT = {
  mode: 'artifactRetentionMode',
  days: 'artifactRetentionDays',
} as const;

/**
 * The artifact retention from CDK context (`-c artifactRetentionMode=COMPLIANCE -c
 * artifactRetentionDays=2555`, or cdk.json), or undefined when neither key is set. A bad value
 * stops the synthesis with one line naming the key, before anything is deployed.
 */
export function artifactRetentionFromContext(node: Node): ArtifactRetention | undefined {
  return artifactRetentionFrom(
    {
      mode: text(node.tryGetContext(RETENTION_CONTEXT.mode)),
      days: text(node.tryGetContext(RETENTION_CONTEXT.days)),
    },
    { mode: `context ${RETENTION_CONTEXT.mode}`, days: `context ${RETENTION_CONTEXT.days}` },
  );
}

// `-c` gives strings, cdk.json may give numbers.
function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}
