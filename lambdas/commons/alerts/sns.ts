import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { AlertsPort, RecruitmentAlert } from './port.js';

/** Publishes recruitment alerts to an SNS topic, with attributes subscribers can filter on. */
export class SnsAlerts implements AlertsPort {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(alert: RecruitmentAlert): Promise<void> {
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
