/**
 * Issue 12: the key of the source-identifier hashes is held apart from the study data: a Secrets Manager
 * secret encrypted with its own KMS key, readable by ingest alone, and cdk-nag stays clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../infra/functions.js';
import { functionLogicalId, resourcesOf, synthesise, type Synthesised } from './synth.js';

let synth: Synthesised;
beforeAll(() => {
  synth = synthesise();
}, 120_000);
afterAll(() => synth?.dispose());

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function statementsOf(name: string): Statement[] {
  const fn = resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, name)]!;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(resourcesOf(synth.template, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

describe('StudyStack: the source-identifier key', () => {
  const secretId = (): string => {
    const [id] = Object.keys(resourcesOf(synth.template, 'AWS::SecretsManager::Secret'));
    return id!;
  };

  it('is one retained secret encrypted with a rotating KMS key of its own, used by nothing else', () => {
    const secrets = resourcesOf(synth.template, 'AWS::SecretsManager::Secret');
    expect(Object.keys(secrets)).toHaveLength(1);
    const secret = secrets[secretId()]!;
    expect(secret.DeletionPolicy).toBe('Retain');
    const keyId = secret.Properties.KmsKeyId['Fn::GetAtt'][0] as string;
    expect(resourcesOf(synth.template, 'AWS::KMS::Key')[keyId]!.Properties.EnableKeyRotation).toBe(true);
    // No table, queue, topic or log group uses that key.
    const others = JSON.stringify({
      tables: resourcesOf(synth.template, 'AWS::DynamoDB::GlobalTable'),
      queues: resourcesOf(synth.template, 'AWS::SQS::Queue'),
      topics: resourcesOf(synth.template, 'AWS::SNS::Topic'),
      logs: resourcesOf(synth.template, 'AWS::Logs::LogGroup'),
    });
    expect(others).not.toContain(`"${keyId}"`);
  });

  it('is readable by the ingest core alone (ingest, and bulk import which commits through it), and decryptable only through Secrets Manager', () => {
    for (const spec of FUNCTIONS) {
      const statements = statementsOf(spec.name);
      const reads = statements.filter((s) => JSON.stringify(s.Resource).includes(`"${secretId()}"`));
      const env = resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, spec.name)]!.Properties.Environment.Variables;
      if (spec.name === 'ingest' || spec.name === 'import') {
        expect(reads.flatMap((s) => s.Action)).toEqual(['secretsmanager:GetSecretValue']);
        expect(env.SOURCE_KEY_SECRET_ARN).toEqual({ Ref: secretId() });
        const decrypt = statements.find((s) => JSON.stringify(s.Condition ?? {}).includes('secretsmanager.'));
        expect(decrypt?.Action).toBe('kms:Decrypt');
      } else {
        expect(reads, spec.name).toEqual([]);
        expect(env.SOURCE_KEY_SECRET_ARN, spec.name).toBeUndefined();
        expect(statements.some((s) => JSON.stringify(s).includes('secretsmanager')), spec.name).toBe(false);
      }
    }
  });
});
