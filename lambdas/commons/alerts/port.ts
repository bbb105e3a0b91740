/**
 * A recruitment alert as its readers (the recruitment team) receive it: the pseudonym, the state and
 * what still needs work. No name or hospital identifier: the team resolves the pseudonym through the
 * audited identity route when it decides to approach the patient.
 */
export interface RecruitmentAlert {
  /** The Communication that records the alert; subscribers de-duplicate on it. */
  readonly alertId: string;
  readonly patient: string;
  readonly state: 'candidate' | 'eligible';
  readonly previousState?: string;
  /** Criteria still unknown or for review. */
  readonly pending: readonly { readonly code: string; readonly state: string }[];
  readonly screenedAt: string;
}

/** Where recruitment alerts go: SNS in AWS; a log line and an optional webhook locally. */
export interface AlertsPort {
  publish(alert: RecruitmentAlert): Promise<void>;
}
