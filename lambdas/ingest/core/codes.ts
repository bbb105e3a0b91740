import type { CodeableConcept, Coding, ConceptMap, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';

/** A local code that the study's ConceptMap does not know. */
export class UnknownLocalCodeError extends Error {
  public override readonly name = 'UnknownLocalCodeError';
}

/** Systems that are standards in their own right: a code from them is never "local". */
const STANDARD_SYSTEMS = new Set([
  'http://loinc.org',
  'http://snomed.info/sct',
  'http://www.nlm.nih.gov/research/umls/rxnorm',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://hl7.org/fhir/sid/icd-10',
  'http://unitsofmeasure.org',
]);

/** Profiles that the layer derives itself; the EHR's data is never routed to them. */
export const DERIVED_PROFILE_IDS = new Set(['sledai-2k-score', 'sri4-response', 'response-prediction', 'response-prediction-not-evaluable', 'eligibility-screening']);

/** Where a resource type's code lives, for finding the profile whose required binding it matches. */
const CODE_PATHS: Record<string, readonly string[]> = {
  Observation: ['Observation.code'],
  Condition: ['Condition.code'],
  MedicationAdministration: ['MedicationAdministration.medication[x]', 'MedicationAdministration.medicationCodeableConcept'],
  MedicationRequest: ['MedicationRequest.medication[x]', 'MedicationRequest.medicationCodeableConcept'],
  MedicationStatement: ['MedicationStatement.medication[x]', 'MedicationStatement.medicationCodeableConcept'],
};

interface Route {
  readonly profile: string;
  readonly resourceType: string;
  /** The required ValueSet of the code, or undefined for a profile that takes every code. */
  readonly valueSet?: string;
}

/**
 * The study's terminology as the mapper uses it: which systems are the hospital's local ones (those
 * the ConceptMaps translate from), and which study profile takes which code.
 */
export class StudyCodes {
  private readonly localSystems: ReadonlySet<string>;
  private readonly routes: readonly Route[];

  constructor(private readonly conformance: Conformance) {
    const maps = conformance.resources.filter((r): r is ConceptMap => r.resourceType === 'ConceptMap');
    this.localSystems = new Set(
      maps.flatMap((m) => (m.group ?? []).map((g) => g.source)).filter((s): s is string => !!s && !STANDARD_SYSTEMS.has(s)),
    );
    this.routes = conformance.resources
      .filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition')
      .filter((sd) => sd.kind === 'resource' && sd.derivation === 'constraint' && sd.url && !DERIVED_PROFILE_IDS.has(sd.id ?? ''))
      .map((sd) => ({ profile: sd.url, resourceType: sd.type, valueSet: requiredCodeBinding(sd) }));
  }

  /**
   * Translates a concept to the study's standard coding, keeping the source codings after it. A
   * concept with no known coding passes as sent (its profile decides whether the study uses it).
   * @param concept - The source CodeableConcept.
   * @returns The study concept, or undefined for a concept with no coding.
   * @throws UnknownLocalCodeError when a coding is from a hospital local system that the ConceptMap lacks.
   */
  translate(concept: CodeableConcept | undefined): CodeableConcept | undefined {
    const codings = concept?.coding ?? [];
    const text = concept?.text ? { text: concept.text } : {};
    for (const coding of codings) {
      const standard = this.conformance.translate(coding);
      if (standard) {
        const rest = codings.filter((c) => !(c.system === standard.system && c.code === standard.code)).map(stripCoding);
        return { coding: [stripCoding(standard), ...rest], ...text };
      }
    }
    const local = codings.find((c) => c.system && this.localSystems.has(c.system));
    if (local) {
      throw new UnknownLocalCodeError(`Local code '${local.code ?? ''}' of ${local.system ?? ''} is not in the study's ConceptMap`);
    }
    return codings.length > 0 ? { coding: codings.map(stripCoding), ...text } : undefined;
  }

  /**
   * The study profile for a resource whose (translated) code is `coding`: a profile with a required
   * code binding takes only the codes of its ValueSet (lab, B-cell, disease-activity, vital-sign
   * Observations); one without takes every code of its type, since screening needs open-ended
   * classes (any infection, any parenteral anti-infective, any intercurrent illness).
   * @param resourceType - The resource type.
   * @param coding - The first coding of the translated concept.
   * @returns The profile URL, or undefined when the study does not use this code.
   */
  profileFor(resourceType: string, coding?: Coding): string | undefined {
    const routes = this.routes.filter((r) => r.resourceType === resourceType);
    const bound = coding && routes.find((r) => r.valueSet && this.conformance.inValueSet(r.valueSet, coding));
    return bound ? bound.profile : routes.find((r) => !r.valueSet)?.profile;
  }
}

function requiredCodeBinding(sd: StructureDefinition): string | undefined {
  const paths = CODE_PATHS[sd.type] ?? [];
  const elements: ElementDefinition[] = [...(sd.differential?.element ?? []), ...(sd.snapshot?.element ?? [])];
  const element = elements.find((e) => paths.includes(e.path) && e.binding?.strength === 'required' && e.binding.valueSet);
  return element?.binding?.valueSet?.split('|')[0];
}

function stripCoding(coding: Coding): Coding {
  const { system, version, code, display } = coding;
  return { ...(system ? { system } : {}), ...(version ? { version } : {}), ...(code ? { code } : {}), ...(display ? { display } : {}) };
}
