import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** What the compute constructs need from the evidence signing key: its settings and grants. */
export interface IEvidenceSigningKey {
  readonly key: kms.IKey;
  /** SIGNING_KEY_ID (the key ARN) and, when there are any, SIGNING_KEY_IDS_RETIRED. */
  runtimeEnvironment(): Record<string, string>;
  /** kms:Sign on the current key: for functions that sign manifests or audit checkpoints. */
  grantSign(grantee: iam.IGrantable): iam.Grant;
  /** kms:GetPublicKey on the current and the retired keys: for the function serving GET /v1/keys. */
  grantGetPublicKey(grantee: iam.IGrantable): iam.Grant;
}

export interface EvidenceSigningKeyProps {
  /**
   * ARNs of KMS keys that signed evidence before this one. They stay listed by GET /v1/keys so
   * evidence they signed still verifies; nothing signs with them any more.
   * @default - none
   */
  readonly retiredKeyArns?: readonly string[];
}

/**
 * The asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs export manifests and audit
 * checkpoints. Its private half never leaves KMS; auditors verify with its public half (GET
 * /v1/keys) and openssl. It is retained when the stack is deleted: evidence it signed must stay
 * verifiable, and a deleted key would make every signature unverifiable. KMS does not rotate
 * asymmetric keys; rotating means a new key here and this one's ARN in `retiredKeyArns`.
 */
export class EvidenceSigningKey extends Construct implements IEvidenceSigningKey {
  readonly key: kms.Key;
  readonly retiredKeyArns: readonly string[];

  constructor(scope: Construct, id: string, props: EvidenceSigningKeyProps = {}) {
    super(scope, id);
    this.retiredKeyArns = props.retiredKeyArns ?? [];
    this.key = new kms.Key(this, 'Key', {
      description: 'Keeptrusts Export: signs evidence (export manifests, audit checkpoints)',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  runtimeEnvironment(): Record<string, string> {
    return {
      SIGNING_KEY_ID: this.key.keyArn,
      ...(this.retiredKeyArns.length > 0 ? { SIGNING_KEY_IDS_RETIRED: this.retiredKeyArns.join(',') } : {}),
    };
  }

  grantSign(grantee: iam.IGrantable): iam.Grant {
    return this.key.grant(grantee, 'kms:Sign');
  }

  grantGetPublicKey(grantee: iam.IGrantable): iam.Grant {
    const current = this.key.grant(grantee, 'kms:GetPublicKey');
    if (this.retiredKeyArns.length === 0) return current;
    return current.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:GetPublicKey'],
        resourceArns: [...this.retiredKeyArns],
      }),
    );
  }
}
