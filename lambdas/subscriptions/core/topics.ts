import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Basic, Extension, Resource } from '@medplum/fhirtypes';
import { canEvaluate } from './filters.js';
import { DEFAULT_BASE, DEFAULT_DIR } from '../../commons/conformance/index.js';
import { SUBSCRIPTION_TOPIC_IDS } from './capability.js';

/*
 * The study's SubscriptionTopics, as data (fhir-profiles/subscription-topics/): R4 has no
 * SubscriptionTopic resource, so each is a `Basic` in the Subscriptions R5 Backport IG's R4 form
 * (code fhir-types#SubscriptionTopic, the R5 elements as cross-version extensions). The folder name
 * is lowercase on purpose: the conformance loader reads every capitalised folder as resources of that
 * type, and these are Basics.
 */

/** Cross-version extensions of the R5 SubscriptionTopic elements (Backport IG, R4 topics). */
const XVER = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
const ARTIFACT_URL = 'http://hl7.org/fhir/StructureDefinition/artifact-url';

/** The folder of the topic files under fhir-profiles/. */
export const TOPICS_FOLDER = 'subscription-topics';

/** An interaction a topic triggers on (R5 SubscriptionTopic.resourceTrigger.supportedInteraction). */
export type TriggerInteraction = 'create' | 'update' | 'delete';

/** A filter a subscriber may set (R5 SubscriptionTopic.canFilterBy). */
export interface TopicFilter {
  readonly resource: string;
  readonly parameter: string;
  readonly description: string;
}

/** One topic as the layer evaluates it. */
export interface Topic {
  /** Canonical URL: what a Subscription names in `criteria`. */
  readonly url: string;
  readonly id: string;
  readonly title: string;
  /** The focus resource type (one trigger per topic here). */
  readonly resource: string;
  readonly interactions: ReadonlySet<TriggerInteraction>;
  /** FHIRPath over `%current` and `%previous` (the version before, absent on create). */
  readonly fhirPathCriteria: string;
  readonly filters: readonly TopicFilter[];
  /** The resource as published (the CapabilityStatement and `Basic` readers see this). */
  readonly definition: Basic;
}

/** A topic file that does not have the shape the layer evaluates. */
export class TopicLoadError extends Error {
  public override readonly name = 'TopicLoadError';
}

const sub = (ext: Extension | undefined, url: string): Extension[] => (ext?.extension ?? []).filter((e) => e.url === url);

/**
 * Reads one topic from its R4 `Basic` form.
 * @param definition - The Basic.
 * @returns The topic.
 * @throws TopicLoadError when the artifact URL, the trigger or its FHIRPath criteria is missing.
 */
export function topicFromBasic(definition: Basic): Topic {
  const ext = (name: string): Extension[] => (definition.extension ?? []).filter((e) => e.url === name);
  const url = ext(ARTIFACT_URL)[0]?.valueUri;
  const triggers = ext(`${XVER}resourceTrigger`);
  const trigger = triggers[0];
  const resource = sub(trigger, 'resource')[0]?.valueUri?.replace(/^http:\/\/hl7\.org\/fhir\/StructureDefinition\//, '');
  const fhirPathCriteria = sub(trigger, 'fhirPathCriteria')[0]?.valueString;
  if (!url || !definition.id || triggers.length !== 1 || !resource || !fhirPathCriteria) {
    throw new TopicLoadError(`Topic ${definition.id ?? '(no id)'}: needs an artifact-url, one resourceTrigger with resource and fhirPathCriteria`);
  }
  const interactions = new Set(sub(trigger, 'supportedInteraction').map((e) => e.valueCode as TriggerInteraction));
  const filters = ext(`${XVER}canFilterBy`).map((f) => ({
    resource: sub(f, 'resource')[0]?.valueUri ?? resource,
    parameter: sub(f, 'filterParameter')[0]?.valueString ?? '',
    description: sub(f, 'description')[0]?.valueMarkdown ?? '',
  }));
  return {
    url,
    id: definition.id,
    title: ext(`${XVER}title`)[0]?.valueString ?? definition.id,
    resource,
    interactions,
    fhirPathCriteria,
    filters,
    definition,
  };
}

/**
 * Loads the study's topics, rebased from the files' canonical base to `base`.
 * @param base - The canonical base (CANONICAL_BASE).
 * @param dir - The fhir-profiles directory (FHIR_PROFILES_DIR in a bundled Lambda).
 * @returns The topics, by file name order.
 */
export function loadTopics(base: string, dir: string = DEFAULT_DIR): Topic[] {
  const folder = join(dir, TOPICS_FOLDER);
  const topics = readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(folder, file), 'utf8');
      return topicFromBasic(JSON.parse(base === DEFAULT_BASE ? text : text.replaceAll(DEFAULT_BASE, base)) as Basic);
    });
  // The CapabilityStatement names the topics from SUBSCRIPTION_TOPIC_IDS: the two must agree.
  const ids = topics.map((t) => t.id).sort();
  if (JSON.stringify(ids) !== JSON.stringify([...SUBSCRIPTION_TOPIC_IDS].sort()) || topics.some((t) => t.url !== `${base}/SubscriptionTopic/${t.id}`)) {
    throw new TopicLoadError(`The topic files (${ids.join(', ')}) do not match SUBSCRIPTION_TOPIC_IDS or their canonical URLs`);
  }
  for (const filter of topics.flatMap((t) => t.filters)) {
    if (!canEvaluate(filter.parameter)) throw new TopicLoadError(`A topic offers filter ${filter.parameter}, which the layer cannot evaluate`);
  }
  return topics;
}

/**
 * Whether a change of a resource is an event of the topic: its type and interaction, then the
 * topic's FHIRPath criteria with `%current` and `%previous` (R5 SubscriptionTopic.resourceTrigger.fhirPathCriteria).
 * @param topic - The topic.
 * @param current - The resource as now stored.
 * @param previous - The version before (absent on create).
 * @returns True when the change triggers the topic.
 */
export function triggers(topic: Topic, current: Resource, previous: Resource | undefined): boolean {
  if (current.resourceType !== topic.resource) return false;
  const interaction: TriggerInteraction = previous ? 'update' : 'create';
  if (!topic.interactions.has(interaction)) return false;
  const now = toTypedValue(current);
  // An absent previous version is an empty resource of the type: every path on it is empty.
  const before = toTypedValue(previous ?? { resourceType: current.resourceType });
  const result = evalFhirPathTyped(topic.fhirPathCriteria, [now], { '%current': now, '%previous': before, current: now, previous: before });
  return result.length === 1 && result[0]?.value === true;
}

/**
 * The resource types a subscriber must be allowed to read to receive a topic's notifications.
 * @param topic - The topic.
 * @returns The types (focus and filter resources).
 */
export function readTypesOf(topic: Topic): string[] {
  return [...new Set([topic.resource, ...topic.filters.map((f) => f.resource)])];
}
