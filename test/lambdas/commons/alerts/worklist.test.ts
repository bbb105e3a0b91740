/**
 * The recruitment alert's link to the candidate's worklist entry in the study app
 * (`{APP_BASE_URL}/#/worklist/{pseudonym}`): a link, no PHI, on SNS (e-mail) and on the local webhook.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SnsAlerts } from '../../../../lambdas/commons/alerts/sns.js';
import { withWorklistLink, worklistLink } from '../../../../lambdas/commons/alerts/worklist.js';
import type { RecruitmentAlert } from '../../../../lambdas/commons/alerts/port.js';

const alert: RecruitmentAlert = { alertId: 'a1', patient: 'p-123', state: 'candidate', pending: [{ code: 'incl-sledai', state: 'unknown' }], screenedAt: '2026-12-04T00:00:00Z' };

describe('worklist link', () => {
  it('points at the pseudonym in the app worklist, and is left out when the app is unknown', () => {
    expect(worklistLink('http://127.0.0.1:8080/app/', 'p-123')).toBe('http://127.0.0.1:8080/app/#/worklist/p-123');
    expect(withWorklistLink(alert, 'https://app.example')).toEqual({ ...alert, worklist: 'https://app.example/#/worklist/p-123' });
    expect(withWorklistLink(alert, undefined)).toEqual(alert);
  });

  it('goes out with the SNS alert (the team e-mail), with nothing but what the alert already says', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm1' });
    await new SnsAlerts(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:1:t', 'https://app.example').publish(alert);
    const message = JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!) as Record<string, unknown>;
    expect(message).toEqual({ ...alert, worklist: 'https://app.example/#/worklist/p-123' });
    sns.restore();
  });
});
