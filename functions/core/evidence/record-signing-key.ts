import type { AuditLog, PublicKeyDirectory } from '../ports.ts';

/**
 * Appends `key.created` for the current signing key unless the trail has it already, so the trail
 * shows from which point each key signed evidence (a rotation adds the next key's entry). The
 * local stack calls it on every start; on AWS the KMS key's creation is CloudFormation's and
 * CloudTrail's record.
 */
export async function recordSigningKey(
  deps: { readonly audit: AuditLog; readonly publicKeys: PublicKeyDirectory; readonly now: () => Date },
  actor: string,
): Promise<void> {
  const current = (await deps.publicKeys.publicKeys()).find((key) => key.current);
  if (current === undefined) return;
  const recorded = await deps.audit.entries({ subject: current.keyId });
  if (recorded.some((entry) => entry.action === 'key.created')) return;
  await deps.audit.append({
    action: 'key.created',
    subject: current.keyId,
    actor,
    at: deps.now().toISOString(),
    details: {
      algorithm: current.algorithm,
      ...(current.createdAt === undefined ? {} : { createdAt: current.createdAt }),
    },
  });
}
