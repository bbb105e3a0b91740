import { z } from 'zod';

/*
 * The shape of fhir-profiles/eligibility/eligibility-criteria.json: the registry's inclusion and
 * exclusion bullets as typed rules. Thresholds, windows and code lists live in the file; the code
 * only knows the rule types. `{base}` in a system or profile URL stands for the study's canonical base.
 */

/** A time span measured back from day 0 (UCUM-style units: d, wk, mo, a). */
export const durationSchema = z.strictObject({
  value: z.number().int().nonnegative(),
  unit: z.enum(['d', 'wk', 'mo', 'a']),
});

/** A look-back window: a duration before day 0, or `any` (any time up to day 0). */
export const windowSchema = z.union([durationSchema, z.literal('any')]);

const includeSchema = z.strictObject({
  /** A key of `systems`. */
  system: z.string().min(1),
  codes: z.array(z.string().min(1)).optional(),
  /** Codes starting with one of these (ICD-10-CM `D80` matches `D80.0`, `D80.1`...). */
  prefixes: z.array(z.string().min(1)).optional(),
  /** Inclusive ranges of the 3-character category (`C00`-`C96`). */
  ranges: z.array(z.strictObject({ from: z.string().length(3), to: z.string().length(3) })).optional(),
  /** Regular expressions on the (dotted) code. */
  patterns: z.array(z.string().min(1)).optional(),
  /** Case-insensitive regular expressions on coding.display and CodeableConcept.text. */
  namePatterns: z.array(z.string().min(1)).optional(),
});

const codeSetSchema = z.strictObject({
  title: z.string().min(1),
  note: z.string().optional(),
  include: z.array(includeSchema),
});

const tierSchema = z.strictObject({
  set: z.string(),
  outcome: z.enum(['met', 'review', 'ignore']),
  window: windowSchema,
  reason: z.string().min(1),
});

const ruleSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('diagnosis'),
    confirmed: z.string(),
    possible: z.string(),
    excluded: z.string(),
    requireInvestigatorConfirmation: z.boolean(),
  }),
  z.strictObject({
    type: z.literal('age'),
    minYears: z.number().int().positive(),
    reference: z.enum(['screening-date', 'day-0']),
    partialBirthDate: z.enum(['review', 'decide-when-unambiguous']),
  }),
  z.strictObject({
    type: z.literal('score'),
    set: z.string(),
    window: durationSchema,
    atLeast: z.number(),
    preferProfile: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('refractory'),
    therapy: z.string(),
    intoleranceTypes: z.array(z.enum(['allergy', 'intolerance'])),
    relapse: z.string(),
    activeCriterion: z.string(),
    noTherapy: z.enum(['unknown', 'review', 'not-met']),
    /** E1: what counts as adequate therapy (systemic, long enough); shorter or local-only therapy is review. */
    systemicTherapy: z.strictObject({
      minimum: durationSchema,
      maxGap: durationSchema,
      routes: z.string(),
      localForms: z.string(),
      systemicForms: z.string(),
      systemicOnly: z.string(),
    }),
    renal: z.strictObject({
      set: z.string(),
      unit: z.string(),
      persistentAbove: z.number().positive(),
      persistentAfter: durationSchema,
      flareAbove: z.number().positive(),
      completeResponseBelow: z.number().positive(),
      doublingFactor: z.number().gt(1),
      doublingMinimum: z.number().nonnegative(),
    }),
  }),
  z.strictObject({
    type: z.literal('condition-history'),
    tiers: z.array(tierSchema).min(1),
    undated: z.enum(['met', 'review', 'ignore']),
    investigatorJudgement: z.boolean(),
  }),
  z.strictObject({
    type: z.literal('lab-threshold'),
    set: z.string(),
    unit: z.string(),
    below: z.number(),
    window: windowSchema,
  }),
  z.strictObject({
    type: z.literal('serology'),
    conditions: z.string(),
    positiveOnly: z.array(z.string()),
    required: z.array(z.strictObject({ label: z.string(), set: z.string() })).min(1),
  }),
  z.strictObject({
    type: z.literal('medication-exposure'),
    set: z.string(),
    window: windowSchema,
    undated: z.enum(['met', 'review', 'ignore']),
  }),
  z.strictObject({
    type: z.literal('suppressive-therapy'),
    drugs: z.string(),
    infections: z.string(),
    administeredWithin: durationSchema,
    unlinked: z.enum(['met', 'review', 'not-met']),
  }),
  z.strictObject({
    type: z.literal('hospitalisation'),
    classes: z.string(),
    types: z.string(),
    reasons: z.string(),
    window: durationSchema,
    noReason: z.enum(['review', 'not-met']),
  }),
  z.strictObject({
    type: z.literal('parenteral-anti-infective'),
    drugs: z.string(),
    routes: z.string(),
    reasons: z.string(),
    window: durationSchema,
    noRoute: z.enum(['review', 'not-met']),
  }),
  z.strictObject({
    type: z.literal('anaphylaxis'),
    manifestations: z.string(),
    triggers: z.string(),
    conditions: z.string(),
    reviewCategories: z.array(z.string()),
  }),
  z.strictObject({ type: z.literal('investigator') }),
]);

const criterionSchema = z.strictObject({
  /** The criterion's code in `{base}/CodeSystem/study-assessments`. */
  code: z.string().regex(/^(incl|excl)-[a-z0-9-]+$/),
  kind: z.enum(['inclusion', 'exclusion']),
  /** The registry bullet the rule implements (shown as the characteristic's text). */
  bullet: z.string().min(1),
  /** Decisions taken where the record is silent or ambiguous, in words. */
  decisions: z.array(z.string().min(1)),
  /** The study decision the rule implements (study-decisions.md: E1, E2...), when there is one. */
  decision: z.string().regex(/^[A-Z]\d+$/).optional(),
  rule: ruleSchema,
});

/** The whole rule file. */
export const criteriaFileSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
  version: z.string().min(1),
  study: z.string().min(1),
  title: z.string().min(1),
  source: z.string().min(1),
  systems: z.record(z.string(), z.string().min(1)),
  settings: z.strictObject({
    dayZero: z.strictObject({ set: z.string(), note: z.string().optional() }),
    /** The code (study-assessments) of an investigator decision Observation, and its documented shape. */
    investigatorDecision: z.strictObject({ code: z.string().min(1), note: z.string().min(1) }),
    ignoredStatuses: z.array(z.string()),
    ignoredVerificationStatuses: z.array(z.string()),
    unconfirmedVerificationStatuses: z.array(z.string()),
    inactiveClinicalStatuses: z.array(z.string()),
    results: z.strictObject({
      positive: z.string(),
      negative: z.string(),
      indeterminate: z.string(),
      positiveStrings: z.array(z.string()),
      negativeStrings: z.array(z.string()),
    }),
  }),
  codeSets: z.record(z.string().regex(/^[a-z0-9-]+$/), codeSetSchema),
  criteria: z.array(criterionSchema).min(1),
});

/** The rule file as written. */
export type CriteriaFile = z.infer<typeof criteriaFileSchema>;
/** One criterion as written. */
export type CriterionDefinition = z.infer<typeof criterionSchema>;
/** One rule as written. */
export type RuleDefinition = z.infer<typeof ruleSchema>;
/** A duration back from day 0. */
export type Duration = z.infer<typeof durationSchema>;
/** A look-back window. */
export type Window = z.infer<typeof windowSchema>;
/** A code set as written. */
export type CodeSetDefinition = z.infer<typeof codeSetSchema>;
