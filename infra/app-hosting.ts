import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CfnOutput, Duration, Fn, NestedStack, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import { APP_CONTENT_SECURITY_POLICY } from '../local/app-security-headers.js';

/** Properties of {@link AppHosting}. */
export interface AppHostingProps {
  /** Resource name prefix of the stage (`nct04893161-dev`). */
  readonly prefix: string;
  /**
   * The built app (`app/dist`, `npm run build:app`). Deployed only when it exists at synth time: a
   * synth on a fresh clone (CI, `cdk diff`) works before the app is built, and deploys no files.
   */
  readonly appDir: string;
  /** The FHIR API, served by the same distribution under `/fhir/*` so the app calls it same-origin. */
  readonly api: HttpApi;
  /**
   * The identity provider's token endpoint: the one cross-origin call of the app (the SMART code
   * exchange), added to the CSP's `connect-src`. Unset: `connect-src 'self'` alone.
   */
  readonly tokenEndpoint?: string;
}

/** The viewer-request function: `/` → `/app/`, and a folder (`/app/`) → its `index.html` in the bucket. */
const REWRITE_FUNCTION = `function handler(event) {
  var request = event.request;
  if (request.uri === '/' || request.uri === '/app') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/app/' } } };
  }
  if (request.uri.endsWith('/')) {
    request.uri += 'index.html';
  }
  return request;
}`;

/**
 * The CSP of the app in AWS: the local one (local/app-security-headers.ts), with the token endpoint's
 * origin added to `connect-src` when the identity provider is on another origin.
 * @param tokenEndpoint - The identity provider's token endpoint, if configured.
 * @returns The policy.
 */
export function hostedContentSecurityPolicy(tokenEndpoint?: string): string {
  if (!tokenEndpoint) return APP_CONTENT_SECURITY_POLICY;
  return APP_CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${new URL(tokenEndpoint).origin}`);
}

/**
 * The study app in AWS: a private S3 bucket (public access blocked, TLS only, encrypted, versioned)
 * read by CloudFront through origin access control, HTTPS only, every response with the app's
 * security headers (CSP, HSTS, nosniff, frame-options DENY, no referrer). The app is served at
 * `/app/` and the FHIR API at `/fhir/*` on the same origin, as locally, so the app's FHIR base is
 * `{origin}/fhir` in both. Hash routes (`/app/#/review`) need no rewriting beyond `index.html` for a
 * folder; no error page is substituted, since the API's 4xx answers pass through the same distribution.
 *
 * A nested stack of the study stack: the deployment of the files runs the CDK's own BucketDeployment
 * function, whose grants (wildcard S3 actions on the asset and app buckets, CloudFront invalidation)
 * are the construct's; keeping it apart leaves the study stack's template to the study's functions,
 * whose least privilege test/infra/stack.test.ts pins. cdk-nag checks both.
 */
export class AppHosting extends NestedStack {
  public readonly bucket: Bucket;
  public readonly distribution: Distribution;
  /** Whether `appDir` existed at synth time (and its files are deployed). */
  public readonly deploysFiles: boolean;

  constructor(scope: Construct, id: string, props: AppHostingProps) {
    super(scope, id, { description: `${props.prefix}: the NCT04893161 study app (S3 behind CloudFront)` });
    const stack = Stack.of(this);
    const parent = Stack.of(scope);
    // Access logs of the bucket and the distribution. CloudFront's standard logs need ACLs on the bucket.
    const logs = new Bucket(this, 'Logs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(logs).acknowledge(
      { id: 'AwsSolutions-S1', reason: 'This is the access-log bucket of the app bucket and the distribution; logging it to itself would loop.' },
      { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: 'This is the access-log bucket; logging it to itself would loop.' },
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'Access logs of a static site hold no study data; one region with versioning is kept for a year.' },
      { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'CloudFront standard logging delivers only to SSE-S3 buckets without an extra key policy; the logs hold request metadata, no study data.' },
    );
    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'bucket/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge(
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: 'The bucket holds the built app (public code, no study data), rebuilt from the repository on every deploy.' },
      { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: 'The bucket holds the built app (public code, no study data); SSE-S3 keeps CloudFront origin access control free of a KMS key policy.' },
    );

    const headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      responseHeadersPolicyName: `${props.prefix}-app-security-headers`,
      comment: 'NCT04893161 study app: CSP, HSTS, nosniff, frame-options DENY, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: hostedContentSecurityPolicy(props.tokenEndpoint), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    const rewrite = new CloudFrontFunction(this, 'Rewrite', {
      functionName: `${props.prefix}-app-rewrite`,
      comment: 'Redirects / to /app/ and serves index.html for a folder',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(REWRITE_FUNCTION),
    });
    const apiDomain = Fn.select(2, Fn.split('/', props.api.apiEndpoint));
    this.distribution = new Distribution(this, 'Distribution', {
      comment: `${props.prefix}: the NCT04893161 study app and its FHIR API`,
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'distribution/',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: rewrite, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        // The API, same-origin for the app: never cached, every header but Host forwarded (the bearer token too).
        '/fhir/*': {
          origin: new HttpOrigin(apiDomain, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
        },
      },
    });
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions-CFR1', reason: 'The study may be run from any country its sites are in; who may sign in is decided by the identity provider, not by geography.' },
      {
        id: 'AwsSolutions-CFR2',
        reason: 'The app is static public code; the API behind /fhir/* has its own JWT authorizer and stage throttling. A WAF web ACL for CloudFront lives in us-east-1 and is added by the landing zone when the hospital requires one.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason: 'With the default *.cloudfront.net certificate CloudFront negotiates TLSv1 at minimum whatever the policy says (the CDK refuses to set one); set minimumProtocolVersion TLS_V1_2_2021 with the custom domain and its certificate.',
      },
    );

    // Synth must work on a fresh clone before `npm run build:app`: no folder, no files to deploy.
    this.deploysFiles = existsSync(join(props.appDir, 'index.html'));
    if (this.deploysFiles) {
      new BucketDeployment(this, 'Deploy', {
        sources: [Source.asset(props.appDir)],
        destinationBucket: this.bucket,
        destinationKeyPrefix: 'app/',
        // The hashed assets never change; index.html names them and is revalidated.
        cacheControl: [CacheControl.noCache()],
        distribution: this.distribution,
        distributionPaths: ['/app/*'],
        prune: true,
        memoryLimit: 256,
      });
      acknowledgeDeploymentHandler(stack, this.bucket);
    }
    // Outputs of the study stack (a nested stack's own outputs are not shown by `cdk deploy`).
    new CfnOutput(parent, 'AppUrl', { value: `https://${this.distribution.distributionDomainName}/app/`, description: 'The study app' });
    new CfnOutput(parent, 'AppFhirBaseUrl', { value: `https://${this.distribution.distributionDomainName}/fhir`, description: 'FHIR base as the app reaches it (same origin)' });
  }
}

/**
 * The BucketDeployment's handler is a singleton function of the stack, made by the CDK: its findings
 * are acknowledged on it, with why each is acceptable for a deploy-time copy of public files.
 */
function acknowledgeDeploymentHandler(stack: Stack, bucket: Bucket): void {
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const bucketArn = `<${stack.getLogicalId(bucket.node.defaultChild as CfnElement)}.Arn>`;
  const wildcards = [
    'Action::s3:GetObject*',
    'Action::s3:GetBucket*',
    'Action::s3:List*',
    'Action::s3:DeleteObject*',
    'Action::s3:Abort*',
    // The CDK asset bucket, its partition a token or resolved depending on the stack's environment.
    ...['<AWS::Partition>', 'aws'].map((partition) => `Resource::arn:${partition}:s3:::cdk-hnb659fds-assets-${account}-${region}/*`),
    `Resource::${bucketArn}/*`,
    'Resource::*',
  ];
  const why = 'CDK BucketDeployment handler, at deploy time only: it reads the asset from the CDK asset bucket, replaces the app files in the app bucket and invalidates the distribution (cloudfront:CreateInvalidation has no resource-level scoping); the wildcards are the construct\'s own grants.';
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    Validations.of(child).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'CDK BucketDeployment handler: the construct writes its logs with AWSLambdaBasicExecutionRole; it runs at deploy time only.' },
      ...wildcards.map((w) => ({ id: `AwsSolutions-IAM5[${w}]`, reason: why })),
      { id: 'AwsSolutions-L1', reason: 'CDK BucketDeployment handler: its runtime is chosen by aws-cdk-lib and moves with it.' },
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'CDK BucketDeployment handler: invoked by CloudFormation, which reports a failure as a failed deploy.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'CDK BucketDeployment handler: copies public app files between S3 buckets at deploy time; no study data.' },
      { id: 'HIPAA.Security-LambdaConcurrency', reason: 'CDK BucketDeployment handler: one invocation per deploy.' },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'CDK BucketDeployment handler: the construct generates its inline policy.' },
      { id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason: 'CDK BucketDeployment handler log group: deploy-time copy logs of public app files, no study data.' },
      { id: 'HIPAA.Security-CloudWatchLogGroupRetentionPeriod', reason: 'CDK BucketDeployment handler log group: deploy-time copy logs of public app files, no study data.' },
    );
  }
}
