import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The derivation data does not match its schema; the message names every bad file and path. */
export class DerivationRulesError extends Error {
  public override readonly name = 'DerivationRulesError';
}

const code = z.string().min(1);
const coding = z.object({ system: z.string().min(1), code, display: z.string().optional() });
/** PGA and other 0–3 limits are integer hundredths, so no float ever reaches a comparison. */
const hundredths = z.number().int().nonnegative();

const descriptor = z.object({
  code,
  display: z.string(),
  weight: z.number().int().positive(),
  /** Groups used elsewhere: `serology` (excluded by DORIS), LLDAS major-organ groups. */
  groups: z.array(code),
});

/** The study decision (study-decisions.md) a block of data implements, with a short statement of it. */
const decision = { decision: z.string().regex(/^[DEU]\d+$/), statement: z.string().min(1) };

const sledaiFile = z
  .object({
    description: z.string().optional(),
    lookBackDays: z.number().int().nonnegative(),
    lookBackNote: z.string().optional(),
    /** D2: the window above is the study's decision, stored with every score. */
    lookBackDecision: z.object(decision),
    totalCode: code,
    usableStatuses: z.array(code).min(1),
    /** D3: when a visit has a total, and how a partial score names what it lacks. */
    completeness: z.object({
      ...decision,
      /** Observation.dataAbsentReason of a partial score (it has no total). */
      totalAbsentReason: coding,
      /** component.dataAbsentReason of a descriptor nobody assessed. */
      missingReason: coding,
      /** component.dataAbsentReason of a descriptor the data cannot decide (D4, D5). */
      undecidedReason: coding,
      /** Whether a visit with no SLEDAI-2K data at all still gets a (fully missing) partial score. */
      scoreVisitsWithoutData: z.boolean(),
      note: z.string().optional(),
    }),
    /** meta.source of a descriptor record that an investigator wrote to settle a review (`{base}` allowed); it wins over other records of the visit. */
    investigatorSource: z.string().min(1),
    descriptors: z.array(descriptor).min(1),
  })
  .superRefine((value, ctx) => {
    const codes = value.descriptors.map((d) => d.code);
    codes.forEach((c, i) => {
      if (codes.indexOf(c) !== i) {
        ctx.addIssue({ code: 'custom', path: ['descriptors', i, 'code'], message: `duplicate descriptor '${c}'` });
      }
    });
    if (codes.includes(value.totalCode)) {
      ctx.addIssue({ code: 'custom', path: ['totalCode'], message: 'the total code must not be a descriptor' });
    }
  });

const analyte = z
  .object({
    loinc: code,
    display: z.string().optional(),
    test: z.enum(['below', 'above', 'below-reference-low', 'above-reference-high', 'present']),
    /** Fixed limit in the rule's unit, for `below`/`above` (strict inequality). */
    limit: z.number().optional(),
    /** Accepted UCUM code → factor into the rule's unit; absent = any unit (reference-range tests). */
    units: z.record(z.string(), z.number().positive()).optional(),
    /** Lower-case words of which the report (value text, code text, note) must name one for the result to count (e.g. heme-granular casts). */
    requiresText: z.array(z.string().min(1)).min(1).optional(),
    requiresTextNote: z.string().optional(),
    mark: z.string().optional(),
    /** Name of a `switches` entry that must be on for this analyte to count. */
    switch: z.string().optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if ((value.test === 'below' || value.test === 'above') && value.limit === undefined) {
      ctx.addIssue({ code: 'custom', path: ['limit'], message: `test '${value.test}' needs a limit` });
    }
  });

/** Interpretation codes (v3-ObservationInterpretation) that decide a reference-range test without a usable range. */
const interpretations = z.object({ present: z.array(code), absent: z.array(code) });

/** A code list in the form the eligibility criteria use (exact codes, ICD-10-CM 3-character ranges, prefixes). */
const codeList = z.object({
  system: z.string().min(1),
  codes: z.array(code).optional(),
  ranges: z.array(z.object({ from: z.string().length(3), to: z.string().length(3) })).optional(),
  prefixes: z.array(code).optional(),
});

const labsFile = z.object({
  description: z.string().optional(),
  switches: z.record(z.string(), z.boolean()),
  switchNotes: z.record(z.string(), z.string()).optional(),
  presenceCodes: z.object({ present: z.array(coding), absent: z.array(coding) }),
  /** Qualitative result strings (lower case, whole value) read as positive / negative. */
  qualitativeStrings: z.object({ positive: z.array(z.string().min(1)), negative: z.array(z.string().min(1)) }),
  /** D4: low complement and increased DNA binding against the reporting lab's range only. */
  referenceRange: z.object({
    ...decision,
    interpretationSystems: z.array(z.string().min(1)).min(1),
    /** `above-reference-high` tests (increased DNA binding). */
    above: interpretations,
    /** `below-reference-low` tests (low complement). */
    below: interpretations,
    /** UCUM codes of a titre quantity (compared as the reciprocal dilution). */
    titreUnits: z.array(z.string().min(1)),
    titreNote: z.string().optional(),
    qualitativeNote: z.string().optional(),
    textRangeNote: z.string().optional(),
  }),
  /** D5: lab-derived descriptors that a drug or an infection may explain are undecided until a clinician decides. */
  attribution: z.object({
    ...decision,
    drug: z.object({
      descriptors: z.array(code).min(1),
      drugs: z.array(z.object({ display: z.string(), rxnorm: code.optional(), names: z.array(z.string().min(1)).optional(), mark: z.string().optional() })).min(1),
      note: z.string().optional(),
    }),
    infection: z.object({
      descriptors: z.array(code).min(1),
      codes: z.array(codeList).min(1),
      ignoredVerificationStatuses: z.array(code),
      inactiveClinicalStatuses: z.array(code),
      note: z.string().optional(),
    }),
  }),
  rules: z.array(z.object({ descriptor: code, analytes: z.array(analyte).min(1) })),
});

/** A study decision id (study-decisions.md: D1, D2, ...), carried by every rule that implements one. */
const decisionId = z.string().regex(/^[A-Z]+\d+$/);

/** An outcome reason: its study-assessments code and the decision behind it (none for LOCF). */
const reason = z.object({ code, decision: decisionId.optional() });

const responseFile = z.object({
  description: z.string().optional(),
  visits: z.object({
    baseline: code,
    screening: code,
    unscheduled: code,
    /** D1: study days (inclusive) within which a component's latest assessment is its baseline. */
    baselineWindow: z.object({ fromDay: z.number().int(), toDay: z.number().int(), decision: decisionId, statement: z.string() }),
    endpoint: z.object({ visit: code, windowStartDay: z.number().int(), windowEndDay: z.number().int() }),
    endpointNote: z.string().optional(),
    /** D7(d): the visit from which a glucocorticoid dose above baseline makes a non-responder. */
    week24: z.object({ visit: code, studyDay: z.number().int(), note: z.string().optional() }),
  }),
  pga: z.object({ code, maxHundredths: hundredths }),
  bilag: z.object({
    domains: z.array(code).min(1),
    grades: z.array(code).min(1),
    newA: z.object({ atVisit: z.array(code), atBaseline: z.array(code) }),
    newB: z.object({ atVisit: z.array(code), atBaseline: z.array(code) }),
    note: z.string().optional(),
  }),
  sri: z.object({
    indices: z.array(z.object({ code, display: z.string(), minReduction: z.number().int().positive() })).min(1),
    maxNewA: z.number().int().nonnegative(),
    maxNewB: z.number().int().nonnegative(),
    pgaWorseningHundredths: hundredths,
    primaryEndpoint: z.object({ index: code, visit: code }),
    missingComponent: z.enum(['non-responder', 'locf']),
    missingComponentDecision: decisionId,
    missingComponentNote: z.string().optional(),
    notEvaluable: z.object({ decision: decisionId, ittCategory: code, statement: z.string() }),
  }),
  lldas: z.object({
    maxSledai: z.number().int().nonnegative(),
    majorOrganGroups: z.array(code),
    gastrointestinalDomain: code,
    gastrointestinalInactiveGrades: z.array(code),
    hemolysisCodes: z.array(coding),
    maxPgaHundredths: hundredths,
    maxPrednisoneMgPerDay: z.number().nonnegative(),
    note: z.string().optional(),
  }),
  doris: z.object({
    excludedGroups: z.array(code),
    maxClinicalSledai: z.number().int().nonnegative(),
    pgaBelowHundredths: hundredths,
    maxPrednisoneMgPerDay: z.number().nonnegative(),
    note: z.string().optional(),
  }),
  codes: z.object({
    sledaiReduction: code,
    bilagNewA: code,
    bilagNewB: code,
    pgaChange: code,
    criterionMet: code,
    criterionNotMet: code,
    outcomeReason: code,
    responder: code,
    nonResponder: code,
    notEvaluable: code,
    primaryEndpoint: code,
    lldas: code,
    doris: code,
    prednisoneEquivalent: code,
    lldasCriteria: z.tuple([code, code, code, code, code]),
    dorisCriteria: z.tuple([code, code, code, code]),
    investigatorDecision: code,
    reasons: z.object({
      withdrawal: reason,
      prohibitedMedication: reason,
      newImmunosuppressant: reason,
      glucocorticoidIncrease: reason,
      missingEndpoint: reason,
      missingComponent: reason,
      missingBaseline: reason,
      baselineBelowThreshold: reason,
      lastObservationCarriedForward: reason,
    }),
  }),
  /** Derived kind → StructureDefinition id under `{base}/StructureDefinition/`; kinds not listed claim no profile. */
  profiles: z.record(z.string(), code),
  withdrawal: z.object({ decision: decisionId, withdrawnStatuses: z.array(code).min(1), offStudyStatuses: z.array(code), statement: z.string() }),
});

const drugMatch = {
  display: z.string(),
  rxnorm: code.optional(),
  /** Lower-case prefixes matched against a coding display or the concept text. */
  names: z.array(z.string().min(1)).optional(),
  mark: z.string().optional(),
};

const medicationsFile = z.object({
  description: z.string().optional(),
  rxnormSystem: z.string().min(1),
  studyDrug: z.object({ rxnorm: code, display: z.string() }),
  excludedStatuses: z.array(code),
  systemicRoutes: z.array(coding).min(1),
  routeMissingIsSystemic: z.boolean(),
  routeNote: z.string().optional(),
  glucocorticoids: z.object({
    pulseMinPrednisoneEquivalentMg: z.number().positive(),
    pulseIsProhibited: z.boolean(),
    pulseDecision: decisionId,
    pulseNote: z.string().optional(),
    currentDose: z.object({
      decision: decisionId,
      statement: z.string(),
      recordDate: z.string(),
      investigatorDecision: z.object({ code, component: code, source: z.string().min(1), unit: code }),
    }),
    drugs: z.array(z.object({ rxnorm: code, display: z.string(), equivalentMg: z.number().positive(), note: z.string().optional() })).min(1),
  }),
  clinicalDrugs: z.array(z.object({ rxnorm: code, display: z.string(), ingredient: code, strengthMg: z.number().positive(), source: z.string().optional() })),
  prohibited: z.array(z.object(drugMatch)),
  prohibitedDecision: decisionId,
  prohibitedNote: z.string().optional(),
  /** D7(c): immunosuppressants and antimalarials whose start or increase after day 0 makes a non-responder. */
  immunosuppressants: z.object({ decision: decisionId, statement: z.string(), drugs: z.array(z.object(drugMatch)).min(1) }),
  maintenance: z.array(
    z.object({ ...drugMatch, maxMg: z.number().positive(), per: z.enum(['day', 'week']), decision: decisionId.optional(), source: z.string().optional() }),
  ),
  maintenanceNote: z.string().optional(),
});

/** The data files of `fhir-profiles/derivation/`, by file name. */
export const DERIVATION_FILES = {
  sledai: 'sledai-2k.json',
  labs: 'sledai-2k-labs.json',
  response: 'response-indices.json',
  medications: 'medications.json',
} as const;

const rulesSchema = z
  .object({ sledai: sledaiFile, labs: labsFile, response: responseFile, medications: medicationsFile })
  .superRefine((value, ctx) => {
    const descriptors = new Set(value.sledai.descriptors.map((d) => d.code));
    value.labs.rules.forEach((rule, i) => {
      if (!descriptors.has(rule.descriptor)) {
        ctx.addIssue({ code: 'custom', path: ['labs', 'rules', i, 'descriptor'], message: `unknown descriptor '${rule.descriptor}'` });
      }
      rule.analytes.forEach((a, j) => {
        if (a.switch !== undefined && !(a.switch in value.labs.switches)) {
          ctx.addIssue({ code: 'custom', path: ['labs', 'rules', i, 'analytes', j, 'switch'], message: `unknown switch '${a.switch}'` });
        }
      });
    });
    for (const kind of ['drug', 'infection'] as const) {
      value.labs.attribution[kind].descriptors.forEach((d, i) => {
        if (!value.labs.rules.some((r) => r.descriptor === d)) {
          ctx.addIssue({ code: 'custom', path: ['labs', 'attribution', kind, 'descriptors', i], message: `'${d}' has no lab rule` });
        }
      });
    }
    const indices = value.response.sri.indices.map((s) => s.code);
    if (!indices.includes(value.response.sri.primaryEndpoint.index)) {
      ctx.addIssue({ code: 'custom', path: ['response', 'sri', 'primaryEndpoint', 'index'], message: 'not one of the SRI indices' });
    }
  });

/** The validated derivation data: every threshold, window, code list, weight and factor the derivations use. */
export type DerivationRules = z.infer<typeof rulesSchema>;
/** One SLEDAI-2K descriptor (code, weight, groups). */
export type DescriptorRule = z.infer<typeof descriptor>;
/** One lab analyte rule of a lab descriptor. */
export type AnalyteRule = z.infer<typeof analyte>;

const DEFAULT_DIR = fileURLToPath(new URL('../../../fhir-profiles/derivation/', import.meta.url));

/**
 * Validates raw derivation data (one parsed JSON document per file).
 * @param raw - The documents, keyed like {@link DERIVATION_FILES}.
 * @returns The typed rules.
 * @throws DerivationRulesError naming every issue with its file and path.
 */
export function parseDerivationRules(raw: Record<keyof typeof DERIVATION_FILES, unknown>): DerivationRules {
  const result = rulesSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const [file, ...path] = i.path;
      const name = DERIVATION_FILES[file as keyof typeof DERIVATION_FILES] ?? String(file);
      return `${name}: ${path.join('.')}: ${i.message}`;
    });
    throw new DerivationRulesError(`Invalid derivation data: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Reads and validates the derivation data once (call at cold start, not per event).
 * @param dir - The folder holding the files (default: the repository's `fhir-profiles/derivation/`).
 * @returns The typed rules.
 * @throws DerivationRulesError for unreadable JSON or data that fails the schema.
 */
export function loadDerivationRules(dir: string = DEFAULT_DIR): DerivationRules {
  const raw = Object.fromEntries(
    Object.entries(DERIVATION_FILES).map(([key, file]) => {
      try {
        return [key, JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown];
      } catch (error) {
        throw new DerivationRulesError(`Cannot read derivation data ${file}: ${(error as Error).message}`, { cause: error });
      }
    }),
  ) as Record<keyof typeof DERIVATION_FILES, unknown>;
  return parseDerivationRules(raw);
}
