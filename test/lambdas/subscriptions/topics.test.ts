/**
 * Topic matching (Subscriptions R5 Backport IG STU 1.1: topics as R4 `Basic`, resourceTrigger with
 * supportedInteraction and fhirPathCriteria over %current / %previous; canFilterBy and
 * backport-filter-criteria) and the checks of a Subscription against the backport profile.
 */
import type { Observation, Subscription, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { passes, parseFilter } from '../../../lambdas/subscriptions/core/filters.js';
import { SUBSCRIPTION_TOPIC_IDS } from '../../../lambdas/subscriptions/core/capability.js';
import { checkEndpoint, checkSubscription, SubscriptionInvalidError } from '../../../lambdas/subscriptions/core/subscription.js';
import { loadTopics, readTypesOf, triggers, type Topic } from '../../../lambdas/subscriptions/core/topics.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const SD = `${BASE}/StructureDefinition`;
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const topics = loadTopics(BASE);
const topic = (id: string): Topic => topics.find((t) => t.id === id)!;

const observation = (profile: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: `${BASE}/CodeSystem/study-assessments`, code: 'x' }] },
  subject: { reference: 'Patient/p1' },
  meta: { profile: [`${SD}/${profile}`] },
  ...extra,
});
const screening = (state: string): Observation => observation('eligibility-screening', { valueCodeableConcept: { coding: [{ system: `${BASE}/CodeSystem/eligibility-state`, code: state }] } });
const task = (status: Task['status'], code = 'review-sledai-descriptor'): Task => ({
  resourceType: 'Task',
  status,
  intent: 'order',
  code: { coding: [{ system: `${BASE}/CodeSystem/study-assessments`, code }] },
  for: { reference: 'Patient/p1' },
});

describe('topics as data', () => {
  it('loads the three topics named in the CapabilityStatement, each an R4 Basic of code SubscriptionTopic', () => {
    expect(topics.map((t) => t.id).sort()).toEqual([...SUBSCRIPTION_TOPIC_IDS].sort());
    for (const t of topics) {
      expect(t.url).toBe(`${BASE}/SubscriptionTopic/${t.id}`);
      expect(t.definition.resourceType).toBe('Basic');
      expect(t.definition.code.coding?.[0]).toEqual({ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' });
    }
    expect(readTypesOf(topic('derived-result'))).toEqual(['Observation']);
    expect(readTypesOf(topic('review-task-opened'))).toEqual(['Task']);
  });

  it('rebases the topics to the configured canonical base', () => {
    const rebased = loadTopics('https://other.example/fhir');
    expect(rebased.map((t) => t.url)).toContain('https://other.example/fhir/SubscriptionTopic/derived-result');
    expect(triggers(rebased.find((t) => t.id === 'derived-result')!, { ...observation('sledai-2k-score'), meta: { profile: ['https://other.example/fhir/StructureDefinition/sledai-2k-score'] } }, undefined)).toBe(true);
  });
});

describe('derived-result', () => {
  const t = topic('derived-result');
  it('triggers on a SLEDAI-2K score, an SRI response and a prediction, created or changed', () => {
    for (const profile of ['sledai-2k-score', 'sri4-response', 'response-prediction', 'response-prediction-not-evaluable']) {
      expect(triggers(t, observation(profile), undefined), profile).toBe(true);
      expect(triggers(t, observation(profile, { status: 'preliminary' }), observation(profile)), profile).toBe(true);
    }
  });
  it('ignores source data, the screening and other types', () => {
    expect(triggers(t, observation('study-lab-observation'), undefined)).toBe(false);
    expect(triggers(t, screening('candidate'), undefined)).toBe(false);
    expect(triggers(t, task('requested'), undefined)).toBe(false);
  });
});

describe('recruitment-state-changed', () => {
  const t = topic('recruitment-state-changed');
  it('triggers on the first screening and on a change of the overall state only', () => {
    expect(triggers(t, screening('candidate'), undefined)).toBe(true);
    expect(triggers(t, screening('eligible'), screening('candidate'))).toBe(true);
    expect(triggers(t, screening('ineligible'), screening('eligible'))).toBe(true);
    // A re-screen that changes a criterion but not the state is no event.
    expect(triggers(t, { ...screening('candidate'), status: 'amended' }, screening('candidate'))).toBe(false);
    expect(triggers(t, observation('sledai-2k-score'), undefined)).toBe(false);
  });
});

describe('review-task-opened', () => {
  const t = topic('review-task-opened');
  it('triggers when a Task is created requested or moves to requested, not while it stays so or closes', () => {
    expect(triggers(t, task('requested'), undefined)).toBe(true);
    expect(triggers(t, task('requested'), task('cancelled'))).toBe(true);
    expect(triggers(t, { ...task('requested'), note: [{ text: 'x' }] }, task('requested'))).toBe(false);
    expect(triggers(t, task('completed'), task('requested'))).toBe(false);
    expect(triggers(t, task('cancelled'), undefined)).toBe(false);
  });
});

describe('filters (backport-filter-criteria)', () => {
  it('reads Type?param=value pairs the topic offers, ANDs parameters and ORs comma-separated values', () => {
    const derived = topic('derived-result');
    const criteria = parseFilter(`Observation?patient=Patient/p1&_profile=${SD}/sledai-2k-score,${SD}/sri4-response`, derived);
    expect(passes(observation('sledai-2k-score'), criteria)).toBe(true);
    expect(passes(observation('sri4-response'), criteria)).toBe(true);
    expect(passes(observation('response-prediction'), criteria)).toBe(false);
    expect(passes({ ...observation('sledai-2k-score'), subject: { reference: 'Patient/p2' } }, criteria)).toBe(false);
    expect(passes(observation('sledai-2k-score'), parseFilter('Observation?patient=p1', derived))).toBe(true);
    const state = parseFilter('Observation?state=eligible,candidate', topic('recruitment-state-changed'));
    expect(passes(screening('candidate'), state)).toBe(true);
    expect(passes(screening('ineligible'), state)).toBe(false);
    const code = parseFilter(`Task?code=${BASE}/CodeSystem/study-assessments|review-glucocorticoid-dose&patient=Patient/p1`, topic('review-task-opened'));
    expect(passes(task('requested', 'review-glucocorticoid-dose'), code)).toBe(true);
    expect(passes(task('requested'), code)).toBe(false);
  });

  it('refuses what the topic does not offer, never ignoring it', () => {
    const derived = topic('derived-result');
    expect(() => parseFilter('Observation?code=http://loinc.org|777-3', derived)).toThrow(/cannot filter by Observation\?code/);
    expect(() => parseFilter('Task?patient=p1', derived)).toThrow(/cannot filter/);
    expect(() => parseFilter('patient=p1', derived)).toThrow(/Type\?parameter=value/);
    expect(() => parseFilter('Observation?patient=', derived)).toThrow(/no value/);
  });
});

describe('a Subscription against the backport profile', () => {
  const valid = (extra: Partial<Subscription> = {}, content = 'id-only'): Subscription =>
    ({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'x',
      criteria: `${BASE}/SubscriptionTopic/derived-result`,
      _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: 'Observation?patient=Patient/p1' }] },
      channel: {
        extension: [
          { url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: 3600 },
          { url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 5 },
        ],
        type: 'rest-hook',
        endpoint: 'https://receiver.example/hook',
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: content }] },
      },
      ...extra,
    }) as Subscription;
  const policy = { allowLoopbackHttp: false };
  const reason = (s: Subscription, p = policy): string => {
    try {
      checkSubscription(s, topics, p);
      return 'ok';
    } catch (err) {
      return err instanceof SubscriptionInvalidError ? err.expression : 'other';
    }
  };

  it('reads topic, filters, endpoint, payload content, heartbeat and timeout', () => {
    const { topic: t, spec } = checkSubscription(valid(), topics, policy);
    expect(t.id).toBe('derived-result');
    expect(spec).toMatchObject({ content: 'id-only', heartbeatPeriod: 3600, timeout: 5, endpoint: 'https://receiver.example/hook' });
    expect(spec.filters).toEqual([{ resource: 'Observation', parameter: 'patient', values: ['Patient/p1'] }]);
    expect(checkSubscription(valid({}, 'full-resource'), topics, policy).spec.content).toBe('full-resource');
  });

  it('names the element at fault', () => {
    expect(reason(valid({ criteria: `${BASE}/SubscriptionTopic/unknown` }))).toBe('Subscription.criteria');
    expect(reason(valid({}, 'everything'))).toBe('Subscription.channel.payload.extension');
    expect(reason(valid({ channel: { ...valid().channel, type: 'websocket' } }))).toBe('Subscription.channel.type');
    expect(reason(valid({ channel: { ...valid().channel, endpoint: 'http://127.0.0.1:9/hook' } }))).toBe('Subscription.channel.endpoint');
    expect(reason(valid({ channel: { ...valid().channel, endpoint: 'http://127.0.0.1:9/hook' } }), { allowLoopbackHttp: true })).toBe('ok');
    expect(reason(valid({ channel: { ...valid().channel, payload: 'application/fhir+xml' } }))).toBe('Subscription.channel.payload');
    expect(reason(valid({ channel: { ...valid().channel, extension: [{ url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 300 }] } }))).toBe('Subscription.channel.extension');
    expect(reason(valid({ status: 'off' }))).toBe('Subscription.status');
  });

  it('allows https anywhere, plain http to loopback in the local run only, and no credentials in the URL', () => {
    expect(checkEndpoint('https://x.example/h', policy)).toBe(true);
    expect(checkEndpoint('http://x.example/h', { allowLoopbackHttp: true })).toBe(false);
    expect(checkEndpoint('http://localhost:8/h', { allowLoopbackHttp: true })).toBe(true);
    expect(checkEndpoint('http://localhost:8/h', policy)).toBe(false);
    expect(checkEndpoint('https://user:pw@x.example/h', policy)).toBe(false);
    expect(checkEndpoint('not a url', policy)).toBe(false);
  });
});
