/**
 * Something the data cannot decide and an investigator must (issue 11): an undecided SLEDAI-2K
 * descriptor (D4, D5), an undecided glucocorticoid dose (D10), an eligibility criterion in review.
 * Derive and screen produce these; each becomes a FHIR `Task` for the investigator, who settles it
 * through the API (`POST /fhir/Task/{id}/$settle`), which writes the decision as study data and so
 * recomputes the subject.
 */
export interface ReviewItem {
  /** What must be decided: a study-assessments code (`review-sledai-descriptor`, `review-glucocorticoid-dose`, `review-eligibility-criterion`). */
  readonly question: 'review-sledai-descriptor' | 'review-glucocorticoid-dose' | 'review-eligibility-criterion';
  /** The subject's pseudonym. */
  readonly subject: string;
  /** The Observation the decision completes, as `Observation/{id}` (the score or screening Observation). */
  readonly focus: string;
  /** The thing decided: the SLEDAI-2K descriptor code, the eligibility criterion code, or `prednisone-equivalent-dose`. */
  readonly item: { readonly system: string; readonly code: string; readonly display?: string };
  /** The study-visit code (SLEDAI-2K items), so the decision lands on the right visit. */
  readonly visit?: string;
  /** The date the decision is about (YYYY-MM-DD): the visit date, or the date of the dose. */
  readonly date?: string;
  /** Why the data could not decide: a study-assessments code (`no-usable-range`, `drug-attribution`, `infection-attribution`, `conflicting-dose-records`, `review`). */
  readonly reason: string;
  /** References (`Type/id`) of the evidence the investigator should look at. */
  readonly evidence: readonly string[];
}
