import type { Logger } from '@aws-lambda-powertools/logger';
import type { AlertsPort, RecruitmentAlert } from './port.js';
import { withWorklistLink } from './worklist.js';

/**
 * The local run's alerts: a log line, and when a webhook URL is configured, a POST of the same JSON
 * (a failed POST throws, so the alert stays pending and is retried). Each carries the link to the
 * candidate's worklist entry in the study app. FHIR apps subscribe to the `recruitment-state-changed`
 * topic instead (lambdas/subscriptions/): the webhook is kept for the tools that read this JSON.
 */
export class LocalAlerts implements AlertsPort {
  constructor(
    private readonly logger: Logger,
    private readonly webhookUrl?: string,
    /** The study app's base URL (APP_BASE_URL; locally `http://127.0.0.1:{PORT}/app`), read when an alert is sent. */
    private readonly appBaseUrl?: () => string | undefined,
  ) {}

  async publish(recorded: RecruitmentAlert): Promise<void> {
    const alert = withWorklistLink(recorded, this.appBaseUrl?.());
    this.logger.info('Recruitment alert', { alert });
    if (this.webhookUrl) {
      const res = await fetch(this.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) });
      if (!res.ok) {
        throw new Error(`Alert webhook answered ${res.status}`);
      }
    }
  }
}
