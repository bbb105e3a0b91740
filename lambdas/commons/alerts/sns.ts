import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { AlertsPort, RecruitmentAlert } from './port.js';
import { withWorklistLink } from './worklist.js';

/**
 * Publishes recruitment alerts to an SNS topic (the team's e-mail), with attributes subscribers can
 * filter on, and the link to the candidate's worklist entry when the app's base URL is given.
 */
export class SnsAlerts implements AlertsPort {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
    /** APP_BASE_URL: the study app, for the worklist link. */
    private readonly appBaseUrl?: string,
  ) {}

  async publish(recorded: RecruitmentAlert): Promise<void> {
    const alert = withWorklistLink(recorded, this.appBaseUrl);
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: `NCT04893161 recruitment: ${alert.state}`,
        Message: JSON.stringify(alert),
        MessageAttributes: {
          state: { DataType: 'String', StringValue: alert.state },
          alertId: { DataType: 'String', StringValue: alert.alertId },
          pendingCriteria: { DataType: 'Number', StringValue: String(alert.pending.length) },
        },
      }),
    );
  }
}
