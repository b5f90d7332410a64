import type { Node } from 'constructs';
import { type DeliveryBucket, deliveryBucketsFrom } from '../functions/core/export/delivery.ts';

/** The CDK context key of the delivery allow-list. */
export const DELIVERY_CONTEXT = 'deliveryBuckets';

/**
 * The delivery allow-list from CDK context: in cdk.json as an array, or on the command line as
 * JSON (`-c 'deliveryBuckets=[{"bucket":"compliance-artifacts","account":"123456789012"}]'`). A
 * bad entry stops the synthesis with one line naming it (a DeliverySettingError).
 */
export function deliveryBucketsFromContext(node: Node): readonly DeliveryBucket[] {
  return deliveryBucketsFrom(node.tryGetContext(DELIVERY_CONTEXT), `context ${DELIVERY_CONTEXT}`);
}
