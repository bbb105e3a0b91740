import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StackProps } from 'aws-cdk-lib';
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpApi, HttpMethod, HttpNoneAuthorizer, HttpRoute, HttpRouteKey, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { IDENTITY_TABLE, STUDY_TABLE } from '../lambdas/commons/store/tables.js';
import { grantPublish, grantTable } from './access.js';
import { SourceKeySecret } from './source-key.js';
import { bundlingOptions, FHIR_PROFILES_DIR } from './bundling.js';
import type { InfraConfig } from './config.js';
import { resourcePrefix } from './config.js';
import { ConsumerQueue } from './consumer-queue.js';
import { AppHosting } from './app-hosting.js';
import type { FunctionSpec } from './functions.js';
import { acknowledgeFunction, acknowledgePublicRoute } from './nag.js';
import { studyTable as studyTableOf } from './tables.js';
import { SubscriptionDelivery } from './subscriptions.js';
import { BulkExport } from './bulk.js';
import { BulkImport } from './bulk-import.js';
import { StudyAudit } from './audit.js';

/** Where the stack's log groups live; the logs key serves these and nothing else. */
const LOG_GROUP_PREFIXES = ['/aws/lambda/', '/aws/apigateway/'] as const;

/** Properties of {@link StudyStack}. */
export interface StudyStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The functions to deploy (infra/functions.ts). */
  readonly functions: readonly FunctionSpec[];
  /** The repository root: `lambdas/`, `fhir-profiles/`, `node_modules/` and the lock file. */
  readonly projectRoot: string;
}

/** A deployed function with what was built around it. */
export interface DeployedFunction {
  readonly spec: FunctionSpec;
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly consumerQueue?: ConsumerQueue;
}

/**
 * The FHIR integration layer of NCT04893161: the HTTP API with its JWT authorizer, one function per
 * entry of infra/functions.ts, the study and identity tables, the "study data changed" bus with a queue
 * per consumer, the recruitment alert topic and the operations alarms.
 */
export class StudyStack extends Stack {
  public readonly studyTable: TableV2;
  public readonly identityTable: TableV2;
  public readonly bus: EventBus;
  public readonly alertTopic: Topic;
  public readonly opsTopic: Topic;
  public readonly api: HttpApi;
  public readonly functions: ReadonlyMap<string, DeployedFunction>;

  private readonly prefix: string;
  private readonly logRetention: RetentionDays;
  private readonly logsKey: Key;
  private readonly messagingKey: Key;
  private readonly sourceKey: SourceKeySecret;

  constructor(scope: Construct, id: string, props: StudyStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.prefix = resourcePrefix(config);
    this.logRetention = config.logRetentionDays;

    // Four keys: each table its own (only ingest and the identity route may use the identity key),
    // one for messages (queues, topics) and one for logs, so a key policy names only the services it serves.
    const studyKey = this.key('StudyKey', 'study', 'study table');
    const identityKey = this.key('IdentityKey', 'identity', 'identity table (hospital key to pseudonym)');
    this.messagingKey = this.key('MessagingKey', 'messaging', 'study event queues and SNS topics');
    this.logsKey = this.key('LogsKey', 'logs', 'CloudWatch log groups');
    this.logsKey.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        // The CloudWatch Logs key policy of the AWS docs, its Encrypt*/Decrypt*/ReEncrypt*/GenerateDataKey*/
        // Describe* written out.
        actions: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:GenerateDataKey',
          'kms:GenerateDataKeyWithoutPlaintext',
          'kms:GenerateDataKeyPair',
          'kms:GenerateDataKeyPairWithoutPlaintext',
          'kms:DescribeKey',
        ],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': LOG_GROUP_PREFIXES.map(
              (p) => `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:${p}${this.prefix}-*`,
            ),
          },
        },
      }),
    );
    // CloudWatch alarms publish to the encrypted ops topic.
    this.messagingKey.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.studyTable = studyTableOf(this, 'StudyTable', STUDY_TABLE, this.prefix, studyKey);
    this.identityTable = studyTableOf(this, 'IdentityTable', IDENTITY_TABLE, this.prefix, identityKey);
    this.sourceKey = new SourceKeySecret(this, 'SourceKey', this.prefix);

    this.bus = new EventBus(this, 'StudyBus', { eventBusName: `${this.prefix}-study` });

    this.alertTopic = this.topic('RecruitmentAlerts', 'recruitment-alerts', 'Recruitment alerts (pseudonymous)', config.alertEmails);
    this.opsTopic = this.topic('OpsAlarms', 'ops', 'Operations alarms', config.opsEmails);
    // enforceSSL replaces SNS's default topic policy, so the alarms' publisher must be named.
    this.opsTopic.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.opsTopic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    const unknown = Object.keys(config.reservedConcurrency).filter((name) => !props.functions.some((f) => f.name === name));
    if (unknown.length > 0) {
      throw new Error(`reservedConcurrency names no function: ${unknown.join(', ')}`);
    }
    const functions = new Map<string, DeployedFunction>();
    for (const spec of props.functions) {
      functions.set(spec.name, this.deploy(spec, props));
    }
    this.functions = functions;
    // A feature's own resources come with its functions: a stack of some functions only (test/ship bundles
    // a subset) leaves them out, while a feature with part of its functions is a mistake and fails the synth.
    if (hasFeature(functions, 'Topic-based Subscriptions', ['subscriptions', 'notify'])) {
      new SubscriptionDelivery(this, 'SubscriptionDelivery', { prefix: this.prefix, key: studyKey, functions });
    }
    if (hasFeature(functions, 'Bulk export', ['export'])) {
      new BulkExport(this, 'BulkExport', { prefix: this.prefix, key: studyKey, functions, alarmTopic: this.opsTopic });
    }
    if (hasFeature(functions, 'Bulk import', ['import', 'export'])) new BulkImport(this, 'BulkImport', { prefix: this.prefix, functions, jobs: (this.node.findChild('BulkExport') as BulkExport).table, alarmTopic: this.opsTopic });

    this.api = this.httpApi(config, [...functions.values()]);
    // The study app (issue 16): S3 behind CloudFront, the API same-origin under /fhir/*; app/dist deployed when built.
    new AppHosting(this, 'App', {
      prefix: this.prefix,
      appDir: join(props.projectRoot, 'app', 'dist'),
      api: this.api,
      ...(config.smartTokenEndpoint ? { tokenEndpoint: config.smartTokenEndpoint } : {}),
    });
    if (hasFeature(functions, 'The audit trail', ['audit'])) {
      new StudyAudit(this, 'AuditTrail', { prefix: this.prefix, functions, alarmTopic: this.opsTopic });
    }

    new CfnOutput(this, 'FhirBaseUrl', { value: `${this.api.apiEndpoint}/fhir`, description: 'FHIR base of the API' });
    new CfnOutput(this, 'StudyTableName', { value: this.studyTable.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
  }

  private key(id: string, alias: string, what: string): Key {
    return new Key(this, id, {
      alias: `alias/${this.prefix}-${alias}`,
      description: `NCT04893161 ${this.prefix}: ${what}`,
      enableKeyRotation: true,
      // A deleted key makes every backup it encrypted unreadable: keys outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private topic(id: string, name: string, displayName: string, emails: readonly string[]): Topic {
    const topic = new Topic(this, id, {
      topicName: `${this.prefix}-${name}`,
      displayName: `NCT04893161 ${displayName}`,
      masterKey: this.messagingKey,
      enforceSSL: true,
    });
    for (const email of emails) topic.addSubscription(new EmailSubscription(email));
    return topic;
  }

  private logGroup(id: string, name: string): LogGroup {
    return new LogGroup(this, id, {
      logGroupName: name,
      retention: this.logRetention,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private deploy(spec: FunctionSpec, props: StudyStackProps): DeployedFunction {
    const { config, projectRoot } = props;
    const entry = join(projectRoot, 'lambdas', spec.name, 'handler.ts');
    if (!existsSync(entry)) {
      throw new Error(`infra/functions.ts lists "${spec.name}" but ${entry} does not exist`);
    }
    const id = pascal(spec.name);
    const functionName = `${this.prefix}-${spec.name}`;
    const logGroup = this.logGroup(`${id}LogGroup`, `${LOG_GROUP_PREFIXES[0]}${functionName}`);
    // Our own role: no AWSLambdaBasicExecutionRole (it allows every log group); the grants below are all it has.
    const role = new Role(this, `${id}Role`, {
      roleName: `${functionName}-${this.region}`,
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${functionName}`,
    });
    logGroup.grantWrite(role);

    const { access } = spec;
    const environment: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: spec.name,
      POWERTOOLS_LOG_LEVEL: config.logLevel,
      POWERTOOLS_METRICS_NAMESPACE: 'belimumab-sle',
      CANONICAL_BASE: config.canonicalBase,
      ...(config.publicBaseUrl ? { PUBLIC_BASE_URL: config.publicBaseUrl } : {}),
      // Public facts of the identity provider, for SMART discovery (serve): the same issuer the authorizer trusts.
      ...(spec.name === 'serve' && config.smartTokenEndpoint
        ? {
            JWT_ISSUER: config.jwtIssuer,
            SMART_TOKEN_ENDPOINT: config.smartTokenEndpoint,
            ...(config.smartAuthorizationEndpoint ? { SMART_AUTHORIZATION_ENDPOINT: config.smartAuthorizationEndpoint } : {}),
          }
        : {}),
      ...(access.study ? { STUDY_TABLE: this.studyTable.tableName } : {}),
      ...(access.identity ? { IDENTITY_TABLE: this.identityTable.tableName } : {}),
      ...(access.publishEvents ? { EVENT_BUS_NAME: this.bus.eventBusName } : {}),
      ...(access.publishAlerts ? { ALERT_TOPIC_ARN: this.alertTopic.topicArn } : {}),
      ...(access.sourceKey ? { SOURCE_KEY_SECRET_ARN: this.sourceKey.secret.secretArn } : {}),
      ...(spec.runtimeFiles.includes('fhir-profiles') ? { FHIR_PROFILES_DIR } : {}),
      ...spec.environment,
    };
    const reserved = config.reservedConcurrency[spec.name] ?? spec.reservedConcurrency;
    const fn = new NodejsFunction(this, id, {
      functionName,
      description: spec.description,
      entry,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      ...(reserved > 0 ? { reservedConcurrentExecutions: reserved } : {}),
      role,
      logGroup,
      tracing: Tracing.ACTIVE,
      environment,
      bundling: bundlingOptions(spec.runtimeFiles),
    });

    if (access.study) grantTable(fn, this.studyTable, STUDY_TABLE, access.study);
    if (access.identity) grantTable(fn, this.identityTable, IDENTITY_TABLE, access.identity);
    if (access.publishEvents) this.bus.grantPutEventsTo(fn);
    if (access.publishAlerts) grantPublish(fn, this.alertTopic);
    if (access.sourceKey) this.sourceKey.grantRead(fn);

    this.functionAlarms(spec, fn);
    let consumerQueue: ConsumerQueue | undefined;
    switch (spec.trigger.kind) {
      case 'api':
        break; // routes are added with the API
      case 'schedule':
        new Rule(this, `${id}Schedule`, {
          ruleName: `${functionName}-schedule`,
          description: `Runs ${functionName} every ${spec.trigger.everyMinutes} minute(s)`,
          schedule: Schedule.rate(Duration.minutes(spec.trigger.everyMinutes)),
          // A failed run is not retried: the next tick does the same work.
          targets: [new LambdaFunction(fn, { retryAttempts: 0 })],
        });
        break;
      case 'study-events':
        consumerQueue = new ConsumerQueue(this, `${id}Events`, {
          prefix: this.prefix,
          consumer: spec.name,
          bus: this.bus,
          key: this.messagingKey,
          alarmTopic: this.opsTopic,
          consumerTimeout: Duration.seconds(spec.timeoutSeconds),
          maxReceiveCount: spec.trigger.maxReceiveCount,
          ...(spec.trigger.origins ? { origins: spec.trigger.origins } : {}),
        });
        consumerQueue.attach(fn, spec.trigger.batchSize);
        break;
      case 'log-subscription':
        break; // the subscription filters and the function's DLQ are wired by infra/audit.ts
    }
    acknowledgeFunction(fn, spec, reserved);
    return { spec, fn, logGroup, ...(consumerQueue ? { consumerQueue } : {}) };
  }

  private functionAlarms(spec: FunctionSpec, fn: NodejsFunction): void {
    const action = new SnsAction(this.opsTopic);
    const alarms = [
      new Alarm(this, `${pascal(spec.name)}ErrorsAlarm`, {
        alarmName: `${this.prefix}-${spec.name}-errors`,
        // Handled failures come back as OperationOutcomes; an invocation error is a crash or a timeout.
        alarmDescription: `${spec.name}: invocations failed (crash or timeout)`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, `${pascal(spec.name)}ThrottlesAlarm`, {
        alarmName: `${this.prefix}-${spec.name}-throttles`,
        alarmDescription: `${spec.name}: invocations throttled at its reserved concurrency`,
        metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  private httpApi(config: InfraConfig, deployed: readonly DeployedFunction[]): HttpApi {
    const jwt = new HttpJwtAuthorizer('Jwt', config.jwtIssuer, {
      authorizerName: `${this.prefix}-jwt`,
      jwtAudience: [...config.jwtAudience],
    });
    const api = new HttpApi(this, 'Api', {
      apiName: `${this.prefix}-fhir`,
      description: 'FHIR R4 API of NCT04893161',
      // Every route needs a token unless it says otherwise: a route added without thought is closed.
      defaultAuthorizer: jwt,
      createDefaultStage: false,
    });
    const accessLogs = this.logGroup('ApiAccessLogGroup', `${LOG_GROUP_PREFIXES[1]}${this.prefix}-fhir`);
    const stage = new HttpStage(this, 'ApiStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      // Ahead of the functions' reserved concurrency: excess traffic is answered 429 at the edge.
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // Who called what and how it ended; no path (it can hold a pseudonym), no query, no headers.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            clientId: '$context.authorizer.claims.client_id',
            sub: '$context.authorizer.claims.sub',
          }),
        ),
      },
    });
    for (const { spec, fn } of deployed) {
      if (spec.trigger.kind !== 'api') continue;
      const integration = new HttpLambdaIntegration(`${pascal(spec.name)}Integration`, fn);
      for (const route of spec.trigger.routes) {
        const authorizer: IHttpRouteAuthorizer = route.publicBecause ? new HttpNoneAuthorizer() : jwt;
        const [created] = api.addRoutes({
          path: route.path,
          methods: [HttpMethod[route.method]],
          integration,
          authorizer,
          ...(route.scopes ? { authorizationScopes: [...route.scopes] } : {}),
        });
        if (route.publicBecause && created) acknowledgePublicRoute(created, route.publicBecause);
      }
    }
    // Issue 14: an unknown path or method gets an OperationOutcome (404/405) from serve instead of the
    // gateway's `{"message":"Not Found"}`. Serve answers this route before reading claims or data.
    const serve = deployed.find((d) => d.spec.name === 'serve');
    if (serve) {
      const unrouted = new HttpRoute(this, 'DefaultRoute', {
        httpApi: api,
        routeKey: HttpRouteKey.DEFAULT,
        integration: new HttpLambdaIntegration('DefaultRouteIntegration', serve.fn),
        authorizer: new HttpNoneAuthorizer(),
      });
      acknowledgePublicRoute(unrouted, 'The $default route only answers 404/405 OperationOutcomes; serve reads no claims and no data on it');
    }
    const serverErrors = new Alarm(this, 'Api5xxAlarm', {
      alarmName: `${this.prefix}-api-5xx`,
      alarmDescription: 'FHIR API: responses with a 5xx status (function crash, timeout or integration failure)',
      metric: stage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    serverErrors.addAlarmAction(new SnsAction(this.opsTopic));
    return api;
  }
}

/**
 * Whether the stack deploys a feature: all of its functions (true), none (false), or some, which throws.
 * @param functions - The deployed functions.
 * @param feature - The feature, for the error.
 * @param names - Its functions.
 * @returns Whether to build the feature's own resources.
 */
function hasFeature(functions: ReadonlyMap<string, DeployedFunction>, feature: string, names: readonly string[]): boolean {
  const missing = names.filter((name) => !functions.has(name));
  if (missing.length > 0 && missing.length < names.length) {
    throw new Error(`${feature} needs ${names.join(' and ')}; infra/functions.ts is missing ${missing.join(', ')}`);
  }
  return missing.length === 0;
}

const pascal = (name: string): string => name.replace(/(^|-)([a-z])/g, (_m, _dash, c: string) => c.toUpperCase());
