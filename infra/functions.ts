/*
 * Every Lambda of the layer as data: one entry per `lambdas/<name>/handler.ts`. The stack turns an entry
 * into a bundled NodejsFunction, its log group, alarms, IAM grants, environment and trigger; adding a
 * function is adding an entry here (test/infra checks that the entries and the handler folders agree).
 */

import { IDENTITY_RESOLVE_SCOPE } from '../lambdas/commons/auth/index.js';

/** What a function may touch; the stack grants exactly this and sets the matching environment variables. */
export interface FunctionAccess {
  /** The study table (STUDY_TABLE): `read` = GetItem/Query, `readWrite` adds PutItem/UpdateItem/DeleteItem/BatchWriteItem. */
  readonly study?: 'read' | 'readWrite';
  /** The identity table (IDENTITY_TABLE), with its own KMS key. */
  readonly identity?: 'read' | 'readWrite';
  /** PutEvents on the study bus (EVENT_BUS_NAME). */
  readonly publishEvents?: boolean;
  /** Publish to the recruitment alert topic (ALERT_TOPIC_ARN). */
  readonly publishAlerts?: boolean;
  /** Read the source-identifier hash key (SOURCE_KEY_SECRET_ARN): a secret with its own KMS key. */
  readonly sourceKey?: boolean;
}

/** Files a function reads at runtime, copied into its asset next to the bundle. */
export type RuntimeFiles =
  /**
   * `fhir-profiles/` (the study's conformance JSON, and under generated/r4 the base R4 definitions split
   * per resource type at build time), at `/var/task/fhir-profiles` (FHIR_PROFILES_DIR).
   */
  'fhir-profiles';

/** An API Gateway route of a function. */
export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path on the HTTP API, e.g. `/fhir/{proxy+}`. */
  readonly path: string;
  /** Why the route is open: set only for a route without the JWT authorizer. */
  readonly publicBecause?: string;
  /** Scopes the authorizer itself requires (any one of them), ahead of the function's own check. */
  readonly scopes?: readonly string[];
}

/** How a function is invoked. */
export type FunctionTrigger =
  | { readonly kind: 'api'; readonly routes: readonly ApiRoute[] }
  | { readonly kind: 'schedule'; readonly everyMinutes: number }
  /** "study data changed" from the bus, through its own SQS queue and DLQ (infra/consumer-queue.ts). */
  | {
      readonly kind: 'study-events';
      readonly batchSize: number;
      readonly maxReceiveCount: number;
      /** Only events of these origins (`StudyDataChanged.origin`; absent counts as `source`); absent: every event. */
      readonly origins?: readonly ('source' | 'derived')[];
    }
  /** CloudWatch Logs lines handed over by subscription filters that infra/audit.ts puts on the API's log groups. */
  | { readonly kind: 'log-subscription' };

/** One function. */
export interface FunctionSpec {
  /** Folder under `lambdas/`, holding `handler.ts` that exports `handler`. */
  readonly name: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Reserved concurrency (overridable per stage: `reservedConcurrency`); 0 = none reserved. */
  readonly reservedConcurrency: number;
  readonly access: FunctionAccess;
  readonly runtimeFiles: readonly RuntimeFiles[];
  readonly trigger: FunctionTrigger;
  /** Fixed settings of this function (lambdas/commons/config.ts), beyond what the stack sets from `access`. */
  readonly environment?: Readonly<Record<string, string>>;
}

/** API Gateway HTTP API gives up on an integration after 30 s; a function behind it must finish first. */
const API_TIMEOUT_SECONDS = 29;

/** The layer's functions. */
export const FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: 'ingest',
    description: 'POST /fhir, POST /fhir/Bundle: validate, map, pseudonymise and commit the EHR Bundles',
    // CPU-bound (JSON parse, base and profile validation of up to 1,000 entries): 1,769 MB buys one full vCPU.
    memoryMb: 1769,
    timeoutSeconds: API_TIMEOUT_SECONDS,
    // One EHR feed pushes a few bundles at a time; 10 caps the write burst on the tables and keeps a runaway
    // client from taking the account's concurrency (API throttling answers 429 first).
    reservedConcurrency: 10,
    access: { study: 'readWrite', identity: 'readWrite', publishEvents: true, sourceKey: true },
    runtimeFiles: ['fhir-profiles'],
    // Checked on the body before anything is written (413). A body only reaches the function inside
    // Lambda's 6 MB invoke payload, so API Gateway (10 MB) answers the larger ones itself.
    environment: { MAX_ENTRIES: '1000', MAX_BODY_BYTES: String(6 * 1024 * 1024) },
    trigger: {
      kind: 'api',
      routes: [
        { method: 'POST', path: '/fhir' },
        { method: 'POST', path: '/fhir/Bundle' },
      ],
    },
  },
  {
    name: 'serve',
    description: 'GET /fhir/..., POST /fhir/{type}/_search: read, vread, history, search, the CapabilityStatement and SMART discovery',
    memoryMb: 1024,
    // Reads are single queries; a search page of 1,000 entries is the slow case, well under 10 s.
    timeoutSeconds: 10,
    // Read traffic from a handful of FHIR apps; 20 leaves headroom without letting a scraper drain the account.
    reservedConcurrency: 20,
    access: { study: 'read' },
    runtimeFiles: ['fhir-profiles'],
    trigger: {
      kind: 'api',
      routes: [
        { method: 'GET', path: '/fhir/{proxy+}' },
        {
          method: 'GET',
          path: '/fhir/metadata',
          publicBecause: 'FHIR clients read the CapabilityStatement before they authenticate (FHIR R4 http.html#capabilities, SMART discovery)',
        },
        {
          method: 'GET',
          path: '/fhir/.well-known/smart-configuration',
          publicBecause: 'SMART App Launch discovery: apps read where to get a token before they have one (SMART 2.x conformance)',
        },
        // FHIR search by POST with a form body (search.html#Introduction): a read, so serve's, not ingest's.
        { method: 'POST', path: '/fhir/{type}/_search' },
        // Validation of one resource, nothing stored: serve's too.
        { method: 'POST', path: '/fhir/{type}/$validate' },
      ],
    },
  },
  {
    name: 'relay',
    description: 'Scheduled: sweeps transactions a crash left open and publishes what the outbox still holds',
    memoryMb: 512,
    // Shorter than the schedule's period, so one run ends before the next starts.
    timeoutSeconds: 50,
    // One sweeper at a time: two would race on the same open transactions and publish the same events twice.
    reservedConcurrency: 1,
    // It also re-sends recruitment alerts whose publish failed.
    access: { study: 'readWrite', publishEvents: true, publishAlerts: true },
    runtimeFiles: [],
    // Every minute: an event whose publish failed after its commit reaches the consumers within about a
    // minute; an idle run is a few Queries on empty sparse indexes (43,200 runs a month, inside the free tier).
    trigger: { kind: 'schedule', everyMinutes: 1 },
  },
  {
    name: 'identity',
    description: 'GET /fhir/Patient/{pseudonym}/$hospital-identity: resolves a pseudonym for the recruitment team, audited',
    memoryMb: 512,
    timeoutSeconds: 10,
    // A few recruiters resolve a few patients a day; 2 also caps how fast a stolen token could unmask.
    reservedConcurrency: 2,
    // Reads identities (ingest is the only writer); each look-up is committed to the study table as an AuditEvent.
    access: { identity: 'read', study: 'readWrite' },
    runtimeFiles: [],
    trigger: {
      kind: 'api',
      routes: [{ method: 'GET', path: '/fhir/Patient/{pseudonym}/$hospital-identity', scopes: [IDENTITY_RESOLVE_SCOPE] }],
    },
  },
  {
    name: 'review',
    description: 'POST /fhir/Task/{id}/$settle: an investigator settles a review Task; the decision is committed as study data',
    memoryMb: 512,
    timeoutSeconds: 10,
    // A few investigators settle a few Tasks a day.
    reservedConcurrency: 2,
    // Reads the Task, commits the completed Task with the decision record and its study event.
    access: { study: 'readWrite', publishEvents: true },
    runtimeFiles: [],
    trigger: { kind: 'api', routes: [{ method: 'POST', path: '/fhir/Task/{id}/$settle' }] },
  },
  {
    name: 'subject-step',
    description: 'Source study events: per subject, one load of the record, derive (visits, SLEDAI-2K, SRI-4..8, LLDAS, DORIS), screen, predict, one commit',
    memoryMb: 1024,
    // A subject is a few hundred resources: one read, three pure stages, one commit in a few seconds;
    // a batch of 10 runs 4 subjects at a time, and 60 s leaves room for the store's retries.
    timeoutSeconds: 60,
    // 72 subjects; 5 in parallel keep the write rate modest and rarely contend on one subject.
    reservedConcurrency: 5,
    // Puts its one `derived` event per commit (subscribers), and sends the recruitment alerts.
    access: { study: 'readWrite', publishEvents: true, publishAlerts: true },
    runtimeFiles: ['fhir-profiles'],
    // Its own `derived` events never reach it: a changed score does not send the subject round again.
    trigger: { kind: 'study-events', batchSize: 10, maxReceiveCount: 5, origins: ['source'] },
  },
  {
    name: 'subscriptions',
    description: 'POST, GET, DELETE /fhir/Subscription..., $status, $events: topic-based Subscriptions (R4 backport), the handshake on creation',
    memoryMb: 512,
    timeoutSeconds: API_TIMEOUT_SECONDS,
    // A few FHIR apps subscribe now and then.
    reservedConcurrency: 2,
    // Stores the Subscription (study table); its ledger table is granted by infra/subscriptions.ts.
    access: { study: 'readWrite' },
    runtimeFiles: ['fhir-profiles'],
    trigger: {
      kind: 'api',
      routes: [
        { method: 'POST', path: '/fhir/Subscription' },
        { method: 'GET', path: '/fhir/Subscription' },
        // Read, $status and $events: more specific than serve's GET /fhir/{proxy+}, so API Gateway sends them here.
        { method: 'GET', path: '/fhir/Subscription/{proxy+}' },
        { method: 'POST', path: '/fhir/Subscription/{proxy+}' },
        { method: 'DELETE', path: '/fhir/Subscription/{id}' },
      ],
    },
  },
  {
    name: 'notify',
    description: 'Study events (source and derived) and a schedule: matches changes to the subscription topics, records numbered notifications, delivers them with retries; heartbeats',
    memoryMb: 512,
    // One event's notifications, each POST bounded by its subscription's timeout (30 s at most).
    timeoutSeconds: 60,
    // Two in parallel (SQS needs at least 2); a subscription's lease keeps its deliveries in order.
    reservedConcurrency: 2,
    // Reads the changed resources and sets a failing Subscription's status; its ledger table via infra/subscriptions.ts.
    access: { study: 'readWrite' },
    runtimeFiles: ['fhir-profiles'],
    trigger: { kind: 'study-events', batchSize: 10, maxReceiveCount: 5 },
  },
  {
    name: 'audit',
    description: 'The audit trail: commits the API functions\' access records (and the gateway\'s own 401/403) as BALP AuditEvents',
    memoryMb: 256,
    // A batch of log lines is one store commit of at most a few hundred small AuditEvents.
    timeoutSeconds: 30,
    // Bursts follow API traffic; 2 keep the write rate modest, and a throttled batch is retried by Lambda.
    reservedConcurrency: 2,
    // Writes AuditEvents only; its DLQ and subscriptions are wired by infra/audit.ts.
    access: { study: 'readWrite' },
    runtimeFiles: [],
    trigger: { kind: 'log-subscription' },
  },
  {
    name: 'export',
    description: 'FHIR Bulk Data export: GET /fhir/$export, /fhir/Patient/$export, /fhir/Group/{id}/$export, the status URL (poll, DELETE); and the worker (its SQS queue) writing NDJSON to S3',
    // The worker holds one NDJSON part (10,000 resources) before its PutObject, and the analysis dataset's rows.
    memoryMb: 1024,
    // The worker's: it runs a job until 2 minutes before this, then resumes from its checkpoint. The API
    // requests of the same function answer in milliseconds (API Gateway would cut them at 30 s anyway).
    timeoutSeconds: 900,
    // A few statisticians export now and then; each job is one worker at a time.
    reservedConcurrency: 2,
    // Reads the study store; the jobs table, bucket and queue are granted by infra/bulk.ts.
    access: { study: 'read' },
    runtimeFiles: ['fhir-profiles'],
    trigger: {
      kind: 'api',
      routes: [
        { method: 'GET', path: '/fhir/$export' },
        { method: 'GET', path: '/fhir/Patient/$export' },
        { method: 'GET', path: '/fhir/Group/{id}/$export' },
        { method: 'GET', path: '/fhir/bulk-status/{id}' },
        { method: 'DELETE', path: '/fhir/bulk-status/{id}' },
      ],
    },
  },
  {
    name: 'import',
    description: 'FHIR bulk import: POST /fhir/$import (a manifest of NDJSON files in the hospital\'s import bucket); and the worker (its SQS queue) committing them through the ingest core, 500 resources a transaction',
    // Its own function, not ingest's: the worker runs in 15-minute slices where ingest is an API function cut
    // at 29 s, and the bucket grant stays off the function the EHR feed calls. Ingest's memory: the same CPU-bound core.
    memoryMb: 1769,
    // The worker's: it runs a job until 2 minutes before this, then resumes from its checkpoint (file, byte).
    timeoutSeconds: 900,
    // An import is rare (a backfill, a migration); one job at a time plus a kick-off keeps the write rate
    // on the tables below the EHR feed's.
    reservedConcurrency: 2,
    // The ingest core's access (pseudonyms, the source-identifier key, study events); the jobs table,
    // bucket and queue are granted by infra/bulk-import.ts.
    access: { study: 'readWrite', identity: 'readWrite', publishEvents: true, sourceKey: true },
    runtimeFiles: ['fhir-profiles'],
    environment: { MAX_ENTRIES: '1000', MAX_BODY_BYTES: String(6 * 1024 * 1024) },
    trigger: { kind: 'api', routes: [{ method: 'POST', path: '/fhir/$import' }] },
  },
];
