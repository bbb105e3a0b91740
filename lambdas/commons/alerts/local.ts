import type { Logger } from '@aws-lambda-powertools/logger';
import type { AlertsPort, RecruitmentAlert } from './port.js';

/**
 * The local run's alerts: a log line, and when a webhook URL is configured, a POST of the same JSON
 * (a failed POST throws, so the alert stays pending and is retried).
 */
export class LocalAlerts implements AlertsPort {
  constructor(
    private readonly logger: Logger,
    private readonly webhookUrl?: string,
  ) {}

  async publish(alert: RecruitmentAlert): Promise<void> {
    this.logger.info('Recruitment alert', { alert });
    if (this.webhookUrl) {
      const res = await fetch(this.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) });
      if (!res.ok) {
        throw new Error(`Alert webhook answered ${res.status}`);
      }
    }
  }
}
