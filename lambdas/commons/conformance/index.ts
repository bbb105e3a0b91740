import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOperationOutcome, validateResource } from '@medplum/core';
import type {
  CodeSystem,
  Coding,
  ConceptMap,
  Observation,
  ObservationDefinition,
  OperationOutcomeIssue,
  PlanDefinition,
  Resource,
  StructureDefinition,
  ValueSet,
} from '@medplum/fhirtypes';
import { ensureDefinitions } from '../fhir/definitions.js';
import { collectResourceTypes } from '../fhir/typed-walk.js';
import { ProfileValidator } from './profile-validator.js';
import { indexConceptMaps, ValueSetIndex } from './terminology.js';

/** The canonical base written in the fhir-profiles/ files; rebased at load time. */
export const DEFAULT_BASE = 'https://belimumab-sle.example.org/fhir';
/** UCUM code system URI. */
export const UCUM = 'http://unitsofmeasure.org';
/** The conformance directory of this repository (fhir-profiles/), relative to this module. */
export const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fhir-profiles');

/** A visit window of the study schedule, in study days (day 0 = first belimumab infusion), both ends inclusive. */
export interface VisitWindow {
  readonly code: string;
  readonly display?: string;
  readonly startDay: number;
  readonly endDay: number;
}

/** The study's conformance resources, loaded once, with the lookups the Lambdas need. */
export interface Conformance {
  readonly base: string;
  /** Every conformance resource, rebased to `base`. */
  readonly resources: readonly Resource[];
  get<T extends Resource>(resourceType: T['resourceType'], id: string): T | undefined;
  byUrl<T extends Resource>(url: string): T | undefined;
  /** Standard coding for a source coding through the ConceptMap(s); a coding already in a study ValueSet passes unchanged; undefined when unknown. */
  translate(coding: Coding): Coding | undefined;
  inValueSet(valueSetUrl: string, coding: Coding): boolean;
  /** The study profile whose required code binding contains this (standard) Observation code, or undefined. */
  observationProfileFor(coding: Coding): string | undefined;
  /** ObservationDefinition for a standard code (canonical unit etc.). */
  observationDefinition(coding: Coding): ObservationDefinition | undefined;
  /** Profile-validate: returns issues (empty when valid). */
  validateProfile(resource: Resource, profileUrl: string, options?: ValidateProfileOptions): OperationOutcomeIssue[];
  /** Visit windows from the PlanDefinition: [{ code, display, startDay, endDay }] */
  visitWindows(): readonly VisitWindow[];
}

/** Options of {@link loadConformance}. */
/** How much of the validation to run. */
export interface ValidateProfileOptions {
  /**
   * Also validate against base R4 (default true). The ingest turns it off for what it mapped itself:
   * every element of a mapped resource was copied from a source entry that passed base validation
   * moments before, and running @medplum/core's validator twice was most of the ingest's time.
   */
  readonly base?: boolean;
}

export interface LoadOptions {
  /** Canonical base to rebase the study's URLs to (default {@link DEFAULT_BASE}). */
  readonly base?: string;
  /** Directory of the conformance JSON (default {@link DEFAULT_DIR}; a bundled Lambda must pass the path it ships them at). */
  readonly dir?: string;
}

/** A conformance file is unreadable or inconsistent. */
export class ConformanceLoadError extends Error {
  public override readonly name = 'ConformanceLoadError';
}

const instances = new Map<string, Conformance>();

/**
 * Loads the study's conformance resources (profiles, terminology, schedule); the base R4 definitions
 * are indexed per resource type when a resource of that type is first validated (fhir/definitions.ts).
 * Cached per base and directory, so a Lambda pays for it once per cold start.
 * @param options - Base URL and directory.
 * @returns The loaded conformance.
 * @example
 * const conformance = loadConformance({ base: config.fhirBase });
 * const issues = conformance.validateProfile(observation, `${conformance.base}/StructureDefinition/study-lab-observation`);
 */
export function loadConformance(options: LoadOptions = {}): Conformance {
  const base = (options.base ?? DEFAULT_BASE).replace(/\/+$/, '');
  const dir = options.dir ?? DEFAULT_DIR;
  const key = `${base}\n${dir}`;
  let instance = instances.get(key);
  if (!instance) {
    instance = new LoadedConformance(base, readResources(dir, base));
    instances.set(key, instance);
  }
  return instance;
}

/**
 * Reads the resources in the resource-type folders of dir (CodeSystem/, ValueSet/, ...), rebasing the
 * default base to `base`. Other folders (generated/, data files of other modules) are not FHIR resources.
 */
function readResources(dir: string, base: string): Resource[] {
  const resources: Resource[] = [];
  const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && /^[A-Z][A-Za-z]+$/.test(e.name));
  for (const folder of folders.map((f) => f.name).sort()) {
    for (const file of readdirSync(join(dir, folder)).filter((f) => f.endsWith('.json')).sort()) {
      const path = join(dir, folder, file);
      const text = readFileSync(path, 'utf8');
      let resource: Resource;
      try {
        resource = JSON.parse(base === DEFAULT_BASE ? text : text.replaceAll(DEFAULT_BASE, base)) as Resource;
      } catch (err) {
        throw new ConformanceLoadError(`${path}: ${(err as Error).message}`, { cause: err });
      }
      if (resource.resourceType !== folder) {
        throw new ConformanceLoadError(`${path}: a ${String(resource.resourceType)} in folder ${folder}`);
      }
      resources.push(resource);
    }
  }
  return resources;
}

const codingKey = (system: string | undefined, code: string | undefined): string => `${system ?? ''}|${code ?? ''}`;

class LoadedConformance implements Conformance {
  private readonly byId = new Map<string, Resource>();
  private readonly urls = new Map<string, Resource>();
  private readonly valueSetIndex: ValueSetIndex;
  private readonly studyValueSets: readonly string[];
  private readonly conceptMap: ReadonlyMap<string, Coding>;
  private readonly definitions = new Map<string, ObservationDefinition>();
  private readonly observationBindings: readonly { profile: string; valueSet: string }[];
  private readonly validator: ProfileValidator;
  private windows?: readonly VisitWindow[];

  public constructor(
    public readonly base: string,
    public readonly resources: readonly Resource[],
  ) {
    for (const r of resources) {
      this.byId.set(`${r.resourceType}/${r.id ?? ''}`, r);
      const url = (r as { url?: string }).url;
      if (url) {
        this.urls.set(url, r);
      }
    }
    const ofType = <T extends Resource>(type: T['resourceType']): T[] => resources.filter((r): r is T => r.resourceType === type);
    const valueSets = ofType<ValueSet>('ValueSet');
    this.valueSetIndex = new ValueSetIndex(valueSets, ofType<CodeSystem>('CodeSystem'));
    this.studyValueSets = valueSets.map((v) => v.url ?? '').filter((u) => u.startsWith(base));
    this.conceptMap = indexConceptMaps(ofType<ConceptMap>('ConceptMap'));
    for (const od of ofType<ObservationDefinition>('ObservationDefinition')) {
      for (const c of od.code?.coding ?? []) {
        this.definitions.set(codingKey(c.system, c.code), od);
      }
    }
    this.observationBindings = ofType<StructureDefinition>('StructureDefinition')
      .filter((sd) => sd.type === 'Observation' && sd.derivation === 'constraint')
      .flatMap((sd) => {
        const code = (sd.snapshot?.element ?? sd.differential?.element ?? []).find((e) => e.id === 'Observation.code');
        const vs = code?.binding?.strength === 'required' ? code.binding.valueSet : undefined;
        return vs && sd.url ? [{ profile: sd.url, valueSet: vs }] : [];
      });
    this.validator = new ProfileValidator({
      structureDefinition: (url) => {
        const sd = this.urls.get(url);
        return sd?.resourceType === 'StructureDefinition' ? sd : undefined;
      },
      inValueSet: (url, coding) => this.inValueSet(url, coding),
    });
  }

  public get<T extends Resource>(resourceType: T['resourceType'], id: string): T | undefined {
    return this.byId.get(`${resourceType}/${id}`) as T | undefined;
  }

  public byUrl<T extends Resource>(url: string): T | undefined {
    return this.urls.get(url) as T | undefined;
  }

  public inValueSet(valueSetUrl: string, coding: Coding): boolean {
    return this.valueSetIndex.contains(valueSetUrl, coding);
  }

  public translate(coding: Coding): Coding | undefined {
    if (this.studyValueSets.some((vs) => this.valueSetIndex.contains(vs, coding))) {
      return coding;
    }
    const target = this.conceptMap.get(codingKey(coding.system, coding.code));
    return target ? { ...target } : undefined;
  }

  public observationProfileFor(coding: Coding): string | undefined {
    return this.observationBindings.find((b) => this.valueSetIndex.contains(b.valueSet, coding))?.profile;
  }

  public observationDefinition(coding: Coding): ObservationDefinition | undefined {
    return this.definitions.get(codingKey(coding.system, coding.code));
  }

  public validateProfile(resource: Resource, profileUrl: string, options: ValidateProfileOptions = {}): OperationOutcomeIssue[] {
    ensureDefinitions(collectResourceTypes(resource));
    const issues = [...(options.base === false ? [] : baseIssues(resource)), ...this.validator.validate(resource, profileUrl)];
    if (resource.resourceType === 'Observation') {
      issues.push(...this.unitIssues(resource));
    }
    return issues;
  }

  /** A stored quantity must be in the canonical unit of its code's ObservationDefinition (the source's is in original-quantity). */
  private unitIssues(observation: Observation): OperationOutcomeIssue[] {
    const issues: OperationOutcomeIssue[] = [];
    const check = (codings: readonly Coding[] | undefined, unit: string | undefined, path: string): void => {
      const od = (codings ?? []).map((c) => this.observationDefinition(c)).find((d) => d !== undefined);
      const canonical = od?.quantitativeDetails?.unit?.coding?.find((c) => c.system === UCUM)?.code;
      if (canonical !== undefined && unit !== canonical) {
        issues.push({
          severity: 'error',
          code: 'value',
          details: { text: `Unit '${unit ?? ''}' is not the canonical unit '${canonical}' of this code` },
          expression: [path],
        });
      }
    };
    if (observation.valueQuantity) {
      check(observation.code?.coding, observation.valueQuantity.code, 'Observation.valueQuantity.code');
    }
    observation.component?.forEach((c, i) => {
      if (c.valueQuantity) {
        check(c.code?.coding, c.valueQuantity.code, `Observation.component[${i}].valueQuantity.code`);
      }
    });
    return issues;
  }

  public visitWindows(): readonly VisitWindow[] {
    if (!this.windows) {
      const plan = this.get<PlanDefinition>('PlanDefinition', 'visit-schedule');
      const visitSystem = `${this.base}/CodeSystem/study-visit`;
      this.windows = Object.freeze(
        (plan?.action ?? []).flatMap((a): VisitWindow[] => {
          const coding = a.code?.flatMap((c) => c.coding ?? []).find((c) => c.system === visitSystem);
          const low = a.timingRange?.low?.value;
          const high = a.timingRange?.high?.value;
          if (!coding?.code || low === undefined || high === undefined) {
            return [];
          }
          const display = a.title ?? coding.display;
          return [Object.freeze({ code: coding.code, ...(display ? { display } : {}), startDay: low, endDay: high })];
        }),
      );
    }
    return this.windows;
  }
}

/** Base R4 validation by medplum (structure, cardinality, datatypes, base invariants). */
function baseIssues(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource);
  } catch (err) {
    return normalizeOperationOutcome(err).issue ?? [];
  }
}
