/**
 * The Groups a Bulk Data client can export (`GET /fhir/Group/{id}/$export`). The study keeps no
 * `actual` Group resources: membership is computed from the store when the job runs.
 *
 * - `nct04893161-eligibility`, the eligibility Group the layer publishes (definitional, `actual =
 *   false`): exported as the population it was applied to, every screened patient, i.e. every
 *   Patient in the store (each is screened on arrival);
 * - `nct04893161-enrolled`: the enrolled subjects, the patients whose ResearchSubject for this study
 *   has a status the study records after enrolment (on study, follow-up, off study, withdrawn: the
 *   ITT population of D9 includes withdrawn subjects); the screening-owned statuses (candidate,
 *   eligible, ineligible) are not enrolment.
 */
export const EXPORT_GROUPS = {
  'nct04893161-eligibility': { members: 'all-patients' },
  'nct04893161-enrolled': {
    members: 'research-subject-status',
    statuses: ['on-study', 'on-study-intervention', 'on-study-observation', 'follow-up', 'off-study', 'withdrawn'],
  },
} as const satisfies Record<string, { members: 'all-patients' } | { members: 'research-subject-status'; statuses: readonly string[] }>;

export type ExportGroupId = keyof typeof EXPORT_GROUPS;

/**
 * Whether an id names an exportable Group.
 * @param id - The Group id from the path.
 * @returns True for the two groups above.
 */
export function isExportGroup(id: string): id is ExportGroupId {
  return Object.hasOwn(EXPORT_GROUPS, id);
}
