import type { CodeableConcept, Observation, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

/*
 * R4 requires an Observation that records a vital sign to conform to the matching vital signs profile
 * (https://hl7.org/fhir/R4/observation-vitalsigns.html), whose key demand is the "magic" LOINC code.
 * The HL7 validator recognises a vital sign by the LOINC and SNOMED CT codes below (first match wins,
 * LOINC before SNOMED) and applies the profile. We check the magic code only, not the whole profile.
 */

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';

interface VitalSign {
  readonly name: string;
  /** The LOINC code the profile requires. */
  readonly magic: string;
  readonly loinc: readonly string[];
  readonly snomed: readonly string[];
}

const VITAL_SIGNS: readonly VitalSign[] = [
  { name: 'Vital Signs Panel', magic: '85353-1', loinc: ['85353-1'], snomed: ['46680005'] },
  {
    name: 'Respiratory Rate',
    magic: '9279-1',
    loinc: ['9279-1', '76170-0', '76172-6', '76171-8', '19840-8', '33438-3', '76270-8', '11291-2'],
    snomed: ['86290005', '271625008', '271306003'],
  },
  {
    name: 'Heart rate',
    magic: '8867-4',
    loinc: ['60978-4', '73795-7', '73799-9', '76476-1', '76477-9', '8867-4', '8889-8', '8890-6', '8891-4', '8892-2', '8893-0', '40443-4', '55425-3', '68999-2', '11328-2', '69000-8', '8886-4'],
    snomed: ['271306003', '249043002', '444981005', '399017001', '251670001', '429525003', '429614003'],
  },
  {
    name: 'Oxygen saturation',
    magic: '2708-6',
    loinc: ['2708-6', '19224-5', '20564-1', '2709-4', '2710-2', '2713-6', '51733-4', '59408-5', '59417-6', '89276-0', '97549-0'],
    snomed: ['442476006', '431314004'],
  },
  {
    name: 'Body temperature',
    magic: '8310-5',
    loinc: ['8310-5', '60834-9', '60835-6', '60836-4', '60838-0', '60955-2', '61009-7', '75539-7', '75987-8', '76010-8', '76011-6', '76278-1', '8309-7', '8328-7', '8329-5', '8330-3', '8331-1', '8332-9', '8333-7', '8334-5', '91371-5', '98657-0', '98663-8'],
    snomed: ['386725007', '276885007', '300076005', '1222808002', '364246006', '307047009', '708499008', '431598003', '698831002', '698832009', '415882003', '415974002', '415929009', '415945006'],
  },
  {
    name: 'Body height',
    magic: '8302-2',
    loinc: ['8302-2', '3137-7', '3138-5', '8306-3', '8308-9'],
    snomed: ['1153637007', '1162419008', '50373000', '1162418000', '1230278008', '1162392001', '1162417005'],
  },
  { name: 'Head circumference', magic: '9843-4', loinc: ['9843-4', '8287-5'], snomed: ['363812007', '169876006', '1269262007', '363811000'] },
  {
    name: 'Body weight',
    magic: '29463-7',
    loinc: ['29463-7', '3141-9', '3142-7', '75292-3', '79348-9', '8350-1', '8351-9'],
    snomed: ['735395000', '425024002', '424927000', '784399000', '1162416001', '1162415002'],
  },
  { name: 'Body mass index', magic: '39156-5', loinc: ['39156-5', '89270-3'], snomed: ['60621009'] },
  {
    name: 'Blood pressure',
    magic: '85354-9',
    loinc: ['85354-9', '35094-2', '8459-0', '76534-7', '55284-4', '8480-6'],
    snomed: ['251076008', '163033001', '163035008', '386534000', '386536003', '271649006', '271650006', '407556006', '407554009', '716579001', '399304008'],
  },
];

function hasCode(code: CodeableConcept | undefined, system: string, codes: readonly string[]): boolean {
  return (code?.coding ?? []).some((c) => c.system === system && typeof c.code === 'string' && codes.includes(c.code));
}

/**
 * Finds which vital sign an Observation records, the way the HL7 validator does.
 * @param code - Observation.code.
 * @returns The vital sign, or undefined.
 */
export function impliedVitalSign(code: CodeableConcept | undefined): VitalSign | undefined {
  return (
    VITAL_SIGNS.find((v) => hasCode(code, LOINC, v.loinc)) ?? VITAL_SIGNS.find((v) => hasCode(code, SNOMED, v.snomed))
  );
}

/**
 * Checks that a vital-sign Observation carries its profile's magic LOINC code.
 * @param observation - The Observation.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkVitalSignCode(observation: Observation, path: string): OperationOutcomeIssue[] {
  const sign = impliedVitalSign(observation.code);
  if (!sign || hasCode(observation.code, LOINC, [sign.magic])) {
    return [];
  }
  return [
    errorIssue(
      'structure',
      `${sign.name} Observation: LOINC code ${sign.magic} is required by the R4 vital signs profile (other codes may be given as well)`,
      `${path}.code`
    ),
  ];
}
