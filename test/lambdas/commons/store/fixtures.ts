import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const PROFILE = 'https://example.org/fhir/StructureDefinition/sle-observation';

/** An Observation for a patient with the given codings and effective time. */
export function observation(
  id: string,
  patient: string,
  effective: string | undefined,
  codings: { system?: string; code: string }[] = [{ system: LOINC, code: '0000-0' }],
  extra: Partial<Observation> = {},
): Observation & { id: string } {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: codings },
    subject: { reference: `Patient/${patient}` },
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...extra,
  };
}

/** A Patient. */
export function patient(id: string, extra: Partial<Patient> = {}): Patient & { id: string } {
  return { resourceType: 'Patient', id, ...extra };
}

/** Every item of a table: for assertions about leftovers only (the store itself never scans). */
export async function scanAll(client: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Ids of resources, in order. */
export const ids = (resources: readonly Resource[]): string[] => resources.map((r) => r.id ?? '');
