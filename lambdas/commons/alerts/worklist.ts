import type { RecruitmentAlert } from './port.js';

/** An alert as published: the recorded alert plus the link to the candidate's worklist entry in the study app. */
export type PublishedAlert = RecruitmentAlert & { readonly worklist?: string };

/**
 * The link to a patient's entry in the study app's worklist: `{appBaseUrl}/#/worklist/{pseudonym}`.
 * A pseudonym in a URL is no more than the alert already says; the app asks for a token before it
 * shows anything.
 * @param appBaseUrl - APP_BASE_URL (locally `http://127.0.0.1:{PORT}/app`).
 * @param patient - The pseudonym.
 * @returns The URL.
 */
export function worklistLink(appBaseUrl: string, patient: string): string {
  return `${appBaseUrl.replace(/\/+$/, '')}/#/worklist/${encodeURIComponent(patient)}`;
}

/**
 * The alert with its worklist link, when the app's base URL is known.
 * @param alert - The recorded alert.
 * @param appBaseUrl - APP_BASE_URL, if any.
 * @returns What to publish.
 */
export function withWorklistLink(alert: RecruitmentAlert, appBaseUrl: string | undefined): PublishedAlert {
  return appBaseUrl ? { ...alert, worklist: worklistLink(appBaseUrl, alert.patient) } : alert;
}
