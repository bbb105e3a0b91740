/**
 * The study app's hosting in AWS (infra/app-hosting.ts), in a stack of its own so it synthesises in
 * a second: private bucket, origin access control, HTTPS, the security headers, the API same-origin,
 * and the deployment of app/dist only when it exists (a fresh clone synthesises before build:app).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { AppHosting, hostedContentSecurityPolicy } from '../../infra/app-hosting.js';
import { APP_CONTENT_SECURITY_POLICY } from '../../local/app-security-headers.js';
import { cdkJsonContext } from './synth.js';

function hosting(appDir: string, tokenEndpoint?: string): { app: App; template: Template; hosting: AppHosting } {
  const app = new App({ context: cdkJsonContext() });
  const stack = new Stack(app, 'Hosting', { env: { account: '111111111111', region: 'eu-west-1' } });
  const api = new HttpApi(stack, 'Api', { createDefaultStage: false });
  const construct = new AppHosting(stack, 'App', { prefix: 'nct04893161-test', appDir, api, ...(tokenEndpoint ? { tokenEndpoint } : {}) });
  return { app, template: Template.fromStack(construct), hosting: construct };
}

const built = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'app-dist-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  return dir;
};

describe('AppHosting: the bucket', () => {
  it('is private, TLS only, encrypted, versioned and logged', () => {
    const { template } = hosting('/nonexistent');
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'bucket/' }),
    });
    const policies = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toContain('"aws:SecureTransport":"false"');
    // Read by CloudFront through origin access control, for this distribution only.
    expect(policies).toContain('cloudfront.amazonaws.com');
    expect(policies).toContain('AWS:SourceArn');
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
  });
});

describe('AppHosting: the distribution', () => {
  it('redirects to HTTPS, serves index.html for /, and sends the app under /app/ and the API under /fhir/*', () => {
    const { template } = hosting('/nonexistent');
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CacheBehaviors: [Match.objectLike({ PathPattern: '/fhir/*', ViewerProtocolPolicy: 'https-only', CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad' })],
        Logging: Match.objectLike({ Prefix: 'distribution/' }),
      }),
    });
    const distribution = JSON.stringify(template.findResources('AWS::CloudFront::Distribution'));
    expect(distribution).not.toContain('CustomErrorResponses');
    const fn = Object.values(template.findResources('AWS::CloudFront::Function'))[0]!;
    expect(fn.Properties.FunctionCode).toContain("request.uri += 'index.html'");
  });

  it('sends the strict CSP, HSTS, nosniff, frame-options DENY and no referrer with every response', () => {
    const { template } = hosting('/nonexistent');
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: {
          ContentSecurityPolicy: { ContentSecurityPolicy: APP_CONTENT_SECURITY_POLICY, Override: true },
          StrictTransportSecurity: { AccessControlMaxAgeSec: 31536000, IncludeSubdomains: true, Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        },
      }),
    });
  });

  it("adds the identity provider's token endpoint origin, and nothing else, to connect-src", () => {
    const csp = hostedContentSecurityPolicy('https://auth.example.org/oauth2/token');
    expect(csp).toContain("connect-src 'self' https://auth.example.org;");
    expect(csp.replace(" https://auth.example.org", '')).toBe(APP_CONTENT_SECURITY_POLICY);
  });
});

describe('AppHosting: deploying app/dist', () => {
  it('deploys nothing when the app is not built, so synth works on a fresh clone', () => {
    const { template, hosting: h } = hosting('/nonexistent');
    expect(h.deploysFiles).toBe(false);
    template.resourceCountIs('Custom::CDKBucketDeployment', 0);
  });

  it('deploys the built app under app/ and invalidates /app/* when it exists', () => {
    const { template, hosting: h } = hosting(built());
    expect(h.deploysFiles).toBe(true);
    template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: 'app/', DistributionPaths: ['/app/*'], Prune: true });
  });
});

describe('AppHosting: cdk-nag', () => {
  it('has no unacknowledged AwsSolutions or HIPAA.Security finding, built or not', () => {
    for (const dir of ['/nonexistent', built()]) {
      const { app } = hosting(dir);
      const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks()].flatMap((pack) =>
        pack
          .validateScope(app)
          .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))
          .filter((f) => !f.includes('/Api/') && !f.endsWith('/Api')),
      );
      expect(findings, dir).toEqual([]);
    }
  });
});
