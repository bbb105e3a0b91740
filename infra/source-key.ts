import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The key of the source-identifier hashes (HMAC-SHA-256 of source system + type + id, issue 12), apart from
 * the study data: a Secrets Manager secret under its own KMS key, readable by ingest alone.
 */
export class SourceKeySecret extends Construct {
  public readonly key: Key;
  public readonly secret: Secret;

  constructor(scope: Construct, id: string, prefix: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      alias: `alias/${prefix}-source-key`,
      description: `NCT04893161 ${prefix}: the secret of the source-identifier hash key`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.secret = new Secret(this, 'Secret', {
      secretName: `${prefix}-source-key`,
      description: 'HMAC-SHA-256 key of the hashes of hospital record ids (ingest only)',
      encryptionKey: this.key,
      // 64 characters of [A-Za-z0-9]: about 380 bits, read as its UTF-8 bytes.
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      // Losing it would orphan every study id: a replay would then duplicate instead of update.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const reason =
      'Rotating the key would change the study id and hashed identifier of every source record, so a replayed bundle would ' +
      'duplicate instead of update; the key never leaves Secrets Manager and ingest, and its KMS key rotates yearly.';
    Validations.of(this.secret).acknowledge(
      { id: 'AwsSolutions-SMG4', reason },
      { id: 'HIPAA.Security-SecretsManagerRotationEnabled', reason },
    );
  }

  /**
   * Lets a function read the secret, and decrypt it only through Secrets Manager.
   * @param grantee - The function.
   */
  grantRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
