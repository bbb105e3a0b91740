import { z } from 'zod';
import { notificationAccessSchema, type NotificationAccess } from './notification-record.js';

/** A FHIR id, as the API's paths and references carry them. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** `Type/id` or `Type/id/_history/vid` of a study resource. */
const STUDY_REF = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * One API access as the HTTP edge saw it: what goes on the audit queue and what the AuditEvent is
 * built from. Everything in it is already redacted (see redact.ts): no hospital identifier, name or
 * free text of a query reaches the queue, only pseudonyms and study ids.
 */
export const apiAccessSchema = z.object({
  /** The request id (API Gateway's, or the local server's): the AuditEvent's id derives from it, so a redelivery writes nothing new. */
  requestId: z.string().min(1).max(128),
  /** When the answer was written (ISO 8601 instant). */
  recorded: z.iso.datetime({ offset: true }),
  method: z.string().min(1).max(16),
  /** Path below the FHIR base (`/Observation/123`), ids that are not study ids redacted. */
  path: z.string().max(2048),
  /** The query string, values of parameters outside the allow-list redacted. */
  query: z.string().max(8192),
  status: z.number().int().min(100).max(599),
  /** `Bundle.type` of the answer when it was a Bundle response (tells a transaction from a batch). */
  bundleType: z.string().max(32).optional(),
  /** Token claims: who. Absent on a refusal before a token was read (401). */
  clientId: z.string().max(256).optional(),
  subject: z.string().max(256).optional(),
  issuer: z.string().max(512).optional(),
  role: z.string().max(128).optional(),
  /** The token's `jti` (BALP OAuth: agent.policy). */
  tokenId: z.string().max(256).optional(),
  sourceIp: z.string().max(64).optional(),
  /** The FHIR base the client called (the server agent and the audit source). */
  baseUrl: z.string().max(512),
  /** Study resources written (from the answer's locations). */
  written: z.array(z.string().regex(STUDY_REF)).max(1000).default([]),
  /** Pseudonyms of the patients whose data the access touched, as far as the edge can tell. */
  patients: z.array(z.string().regex(FHIR_ID)).max(1000).default([]),
});

/** One API access; see {@link apiAccessSchema}. */
export type ApiAccess = z.infer<typeof apiAccessSchema>;

/**
 * What the audit queue carries: an API access, or an outbound subscription notification attempt
 * (notification-record.ts, `kind: 'notification'`). One schema for both, so the same log line
 * (log-audit.ts) and the same writer (write.ts, the audit function) take either.
 */
export const accessRecordSchema = z.union([notificationAccessSchema, apiAccessSchema]);

/**
 * One audited access; see {@link accessRecordSchema}. A notification has none of the API-only fields
 * (method, path, token claims...): typed as absent, so code that reads them off any record still compiles.
 */
export type AccessRecord = ApiAccess | (NotificationAccess & { readonly [K in Exclude<keyof ApiAccess, keyof NotificationAccess>]?: undefined });
