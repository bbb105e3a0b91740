import { fileURLToPath } from 'node:url';
import type { Extension, Group, GroupCharacteristic, Quantity, ValueSet } from '@medplum/fhirtypes';
import type { EligibilityCriteria } from './criteria.js';
import type { CriterionDefinition, Duration, RuleDefinition } from './criteria-schema.js';

/** Where the published Group lives: with the other conformance resources, so the API serves it. */
export const GROUP_FILE = fileURLToPath(new URL('../../../fhir-profiles/Group/nct04893161-eligibility.json', import.meta.url));

const UCUM = 'http://unitsofmeasure.org';

/**
 * The rule file published as FHIR R4: a definitional Group (`actual = false`, the resource R4's
 * ResearchStudy.enrollment points to) with one characteristic per criterion. Each characteristic
 * carries the criterion code (`study-assessments#<code>`, text = the registry bullet), `exclude` for
 * exclusions, its main value (a threshold Quantity, the contained ValueSet of its codes, or `true`
 * for an investigator-only criterion), and extensions: `eligibility-valueset` (every code list the
 * rule reads, as contained ValueSets), `eligibility-window` (look-back windows before day 0) and
 * `eligibility-rule` (the rule as written, JSON, so that another tool can read every parameter) and
 * `eligibility-rule-note` (the decisions taken where the record is silent), and `eligibility-decision`
 * (the id of the study decision the rule implements, e.g. E1, in study-decisions.md).
 * @param criteria - The loaded criteria.
 * @param base - The canonical base.
 * @returns The Group.
 */
export function toEligibilityGroup(criteria: EligibilityCriteria, base: string): Group {
  const compiled = criteria.forBase(base);
  const file = criteria.file;
  const ext = (name: string): string => `${base}/StructureDefinition/${name}`;
  const vsRef = (name: string): Extension => ({ url: ext('eligibility-valueset'), valueReference: { reference: `#vs-${name}` } });
  const used = new Set<string>();
  const characteristic = file.criteria.map((c): GroupCharacteristic => {
    const sets = setsOf(c.rule);
    sets.forEach((s) => used.add(s));
    const windows = windowsOf(c.rule);
    return {
      extension: [
        ...sets.map(vsRef),
        ...windows.map((w) => ({ url: ext('eligibility-window'), valueDuration: duration(w) })),
        { url: ext('eligibility-rule'), valueString: withBase(JSON.stringify(c.rule), base) },
        ...(c.decision ? [{ url: ext('eligibility-decision'), valueId: c.decision }] : []),
        ...c.decisions.map((d) => ({ url: ext('eligibility-rule-note'), valueString: d })),
      ],
      code: { coding: [{ system: `${base}/CodeSystem/study-assessments`, code: c.code }], text: c.bullet },
      ...mainValue(c),
      exclude: c.kind === 'exclusion',
    };
  });
  const settingSets = [file.settings.dayZero.set, file.settings.results.positive, file.settings.results.negative, file.settings.results.indeterminate];
  settingSets.forEach((s) => used.add(s));
  const contained = [...used].sort().map((name): ValueSet => {
    const set = compiled.sets.get(name);
    const includes = set?.composeIncludes(compiled.systems) ?? [];
    const names = set?.namePatterns ?? [];
    return {
      resourceType: 'ValueSet',
      id: `vs-${name}`,
      ...(names.length > 0 ? { extension: names.map((p) => ({ url: ext('eligibility-name-pattern'), valueString: p })) } : {}),
      url: `${base}/ValueSet/eligibility-${name}`,
      version: file.version,
      name: name.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, ch: string) => ch.toUpperCase()),
      title: set?.definition.title ?? name,
      status: 'active',
      ...(set?.definition.note ? { description: set.definition.note } : {}),
      ...(includes.length > 0 ? { compose: { include: includes } } : {}),
    };
  });
  return {
    resourceType: 'Group',
    id: file.id,
    contained,
    extension: [...settingSets.map(vsRef), { url: ext('eligibility-rule'), valueString: withBase(JSON.stringify(file.settings), base) }],
    identifier: [{ system: `${base}/sid/eligibility-criteria`, value: `${file.id}|${file.version}` }],
    type: 'person',
    actual: false,
    // A published resource carries no working notes (issue 12): the title names it, the version is in `identifier`.
    name: file.title,
    characteristic,
  };
}

/** The rule file writes `{base}` for the study's canonical base; a published rule names the real one. */
function withBase(text: string, base: string): string {
  return text.replaceAll('{base}', base);
}

function duration(d: Duration): Quantity {
  return { value: d.value, unit: d.unit, system: UCUM, code: d.unit };
}

function mainValue(c: CriterionDefinition): Pick<GroupCharacteristic, 'valueQuantity' | 'valueReference' | 'valueBoolean'> {
  const rule = c.rule;
  switch (rule.type) {
    case 'age':
      return { valueQuantity: { comparator: '>=', value: rule.minYears, unit: 'a', system: UCUM, code: 'a' } };
    case 'score':
      return { valueQuantity: { comparator: '>=', value: rule.atLeast, unit: '{score}', system: UCUM, code: '{score}' } };
    case 'lab-threshold':
      return { valueQuantity: { comparator: '<', value: rule.below, unit: rule.unit, system: UCUM, code: rule.unit } };
    case 'investigator':
      return { valueBoolean: true };
    case 'diagnosis':
    case 'refractory':
    case 'condition-history':
    case 'serology':
    case 'medication-exposure':
    case 'suppressive-therapy':
    case 'hospitalisation':
    case 'parenteral-anti-infective':
    case 'anaphylaxis': {
      const [primary] = setsOf(rule);
      return { valueReference: { reference: `#vs-${primary ?? ''}` } };
    }
  }
}

/** The code sets a rule reads, its deciding set first. */
function setsOf(rule: RuleDefinition): string[] {
  switch (rule.type) {
    case 'diagnosis':
      return [rule.confirmed, rule.possible, rule.excluded];
    case 'age':
    case 'investigator':
      return [];
    case 'score':
    case 'lab-threshold':
    case 'medication-exposure':
      return [rule.set];
    case 'refractory':
      return [
        rule.therapy,
        rule.renal.set,
        rule.relapse,
        rule.systemicTherapy.routes,
        rule.systemicTherapy.localForms,
        rule.systemicTherapy.systemicForms,
        rule.systemicTherapy.systemicOnly,
      ];
    case 'condition-history': {
      const met = rule.tiers.filter((t) => t.outcome === 'met').map((t) => t.set);
      return [...new Set([...met, ...rule.tiers.map((t) => t.set)])];
    }
    case 'serology':
      return [rule.conditions, ...rule.required.map((r) => r.set), ...rule.positiveOnly];
    case 'suppressive-therapy':
      return [rule.drugs, rule.infections];
    case 'hospitalisation':
      return [rule.reasons, rule.classes, rule.types];
    case 'parenteral-anti-infective':
      return [rule.drugs, rule.routes, rule.reasons];
    case 'anaphylaxis':
      return [rule.triggers, rule.manifestations, rule.conditions];
  }
}

/** The look-back windows a rule uses (distinct, in order). */
function windowsOf(rule: RuleDefinition): Duration[] {
  const all: (Duration | 'any' | undefined)[] = (() => {
    switch (rule.type) {
      case 'score':
      case 'lab-threshold':
      case 'medication-exposure':
      case 'hospitalisation':
      case 'parenteral-anti-infective':
        return [rule.window];
      case 'condition-history':
        return rule.tiers.map((t) => t.window);
      case 'refractory':
        return [rule.systemicTherapy.minimum, rule.renal.persistentAfter];
      case 'suppressive-therapy':
        return [rule.administeredWithin];
      case 'age':
      case 'anaphylaxis':
      case 'diagnosis':
      case 'investigator':
      case 'serology':
        return [];
    }
  })();
  const seen = new Set<string>();
  return all.filter((w): w is Duration => {
    if (w === undefined || w === 'any') {
      return false;
    }
    const key = `${w.value}${w.unit}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}
