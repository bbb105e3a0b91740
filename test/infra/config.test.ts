import { describe, expect, it } from 'vitest';
import { InfraConfigError, loadInfraConfig, PLACEHOLDER_JWT_ISSUER, resourcePrefix } from '../../infra/config.js';

const noContext = (): undefined => undefined;
const contextOf = (values: Record<string, unknown>) => (key: string): unknown => values[key];

describe('loadInfraConfig', () => {
  it('synthesises a dev stage on its defaults', () => {
    const config = loadInfraConfig(noContext, {});
    expect(config).toMatchObject({
      stage: 'dev',
      account: '123456789012',
      region: 'eu-west-1',
      canonicalBase: 'https://belimumab-sle.example.org/fhir',
      jwtIssuer: PLACEHOLDER_JWT_ISSUER,
      jwtAudience: ['belimumab-sle-fhir'],
      alertEmails: [],
      logRetentionDays: 365,
      logLevel: 'INFO',
      reservedConcurrency: {},
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(resourcePrefix(config)).toBe('nct04893161-dev');
  });

  it('reads the environment, comma lists and JSON', () => {
    const config = loadInfraConfig(noContext, {
      STAGE: 'test',
      JWT_AUDIENCE: 'a, b',
      ALERT_EMAILS: 'recruit@hospital.example',
      LOG_RETENTION_DAYS: '731',
      RESERVED_CONCURRENCY: '{"ingest":5,"serve":0}',
    });
    expect(config).toMatchObject({ stage: 'test', jwtAudience: ['a', 'b'], alertEmails: ['recruit@hospital.example'], logRetentionDays: 731, reservedConcurrency: { ingest: 5, serve: 0 } });
  });

  it('prefers a context value to the environment', () => {
    const config = loadInfraConfig(contextOf({ stage: 'ctx', jwtAudience: ['x'] }), { STAGE: 'env', JWT_AUDIENCE: 'y' });
    expect(config.stage).toBe('ctx');
    expect(config.jwtAudience).toEqual(['x']);
  });

  it('ignores the CLI-filled CDK_DEFAULT_REGION: the region is chosen, not inherited', () => {
    expect(loadInfraConfig(noContext, { CDK_DEFAULT_REGION: 'us-east-1' }).region).toBe('eu-west-1');
    expect(loadInfraConfig(noContext, { CDK_DEPLOY_REGION: 'eu-central-1' }).region).toBe('eu-central-1');
  });

  it('names every bad value and where it came from', () => {
    expect(() =>
      loadInfraConfig(contextOf({ stage: 'Prod!' }), { LOG_RETENTION_DAYS: '42', ALERT_EMAILS: 'not-an-email', JWT_ISSUER: 'http://insecure.example' }),
    ).toThrow(/stage \(context "stage"\).*jwtIssuer \(environment JWT_ISSUER\).*alertEmails.0 \(environment ALERT_EMAILS\).*logRetentionDays \(environment LOG_RETENTION_DAYS\)/);
  });

  it('refuses placeholders for prod', () => {
    let error: unknown;
    try {
      loadInfraConfig(contextOf({ stage: 'prod' }), {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InfraConfigError);
    for (const key of ['jwtIssuer', 'account', 'alertEmails', 'opsEmails']) {
      expect((error as Error).message).toContain(key);
    }
  });

  it('accepts a complete prod configuration', () => {
    const config = loadInfraConfig(noContext, {
      STAGE: 'prod',
      CDK_DEPLOY_ACCOUNT: '210987654321',
      JWT_ISSUER: 'https://login.hospital.example/realms/research',
      ALERT_EMAILS: 'recruit@hospital.example',
      OPS_EMAILS: 'cloud-ops@hospital.example',
    });
    expect(config.stage).toBe('prod');
  });
});
