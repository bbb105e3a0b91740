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

const sledaiFile = z
  .object({
    description: z.string().optional(),
    lookBackDays: z.number().int().nonnegative(),
    lookBackNote: z.string().optional(),
    totalCode: code,
    usableStatuses: z.array(code).min(1),
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
    /** Limit used by a reference-range test when the lab sends no range (rule unit). */
    fallbackLimit: z.number().optional(),
    fallbackNote: z.string().optional(),
    /** Name of a `switches` entry that must be on for this analyte to count. */
    switch: z.string().optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.test === 'below' || value.test === 'above') && value.limit === undefined) {
      ctx.addIssue({ code: 'custom', path: ['limit'], message: `test '${value.test}' needs a limit` });
    }
  });

const labsFile = z.object({
  description: z.string().optional(),
  switches: z.record(z.string(), z.boolean()),
  switchNotes: z.record(z.string(), z.string()).optional(),
  presenceCodes: z.object({ present: z.array(coding), absent: z.array(coding) }),
  rules: z.array(z.object({ descriptor: code, analytes: z.array(analyte).min(1) })),
});

const responseFile = z.object({
  description: z.string().optional(),
  visits: z.object({
    baseline: code,
    screening: code,
    unscheduled: code,
    endpoint: z.object({ visit: code, windowStartDay: z.number().int(), windowEndDay: z.number().int() }),
    endpointNote: z.string().optional(),
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
    missingComponentNote: z.string().optional(),
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
    reasons: z.object({
      withdrawal: code,
      prohibitedMedication: code,
      missingEndpoint: code,
      missingComponent: code,
      missingBaseline: code,
      baselineBelowThreshold: code,
      lastObservationCarriedForward: code,
    }),
  }),
  /** Derived kind → StructureDefinition id under `{base}/StructureDefinition/`; kinds not listed claim no profile. */
  profiles: z.record(z.string(), code),
  withdrawnStatuses: z.array(code).min(1),
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
    pulseNote: z.string().optional(),
    drugs: z.array(z.object({ rxnorm: code, display: z.string(), equivalentMg: z.number().positive(), note: z.string().optional() })).min(1),
  }),
  clinicalDrugs: z.array(z.object({ rxnorm: code, display: z.string(), ingredient: code, strengthMg: z.number().positive(), source: z.string().optional() })),
  prohibited: z.array(z.object(drugMatch)),
  prohibitedNote: z.string().optional(),
  maintenance: z.array(z.object({ ...drugMatch, maxMg: z.number().positive(), per: z.enum(['day', 'week']) })),
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
