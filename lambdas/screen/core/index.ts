export { alertBody, type AlertBody, needsAlert } from './alerts.js';
export {
  CRITERIA_FILE,
  type CompiledCriteria,
  DEFAULT_CRITERIA_DIR,
  EligibilityCriteria,
  EligibilityCriteriaError,
  loadEligibilityCriteria,
  parseEligibilityCriteria,
} from './criteria.js';
export type { CriteriaFile } from './criteria-schema.js';
export { GROUP_FILE, toEligibilityGroup } from './publish.js';
export { screeningReviewItems } from './review-items.js';
export {
  type CriterionResult,
  type CriterionState,
  overallState,
  type OverallState,
  type ScreeningInput,
  type ScreeningResult,
  screenPatient,
} from './screen.js';
export {
  ELIGIBILITY_SCREENING,
  EVIDENCE_EXTENSION,
  REASON_EXTENSION,
  researchSubjectId,
  researchSubjectStatus,
  screeningObservationId,
  toScreeningObservation,
} from './screening-observation.js';
