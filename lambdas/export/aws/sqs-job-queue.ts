import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { JobQueue } from '../export-request.js';

/** The body of a worker message: the job to run or resume. */
export interface JobMessage {
  readonly jobId: string;
}

/**
 * Starts (and resumes) export workers through SQS (SendMessage): the kick-off answers at once, the
 * worker Lambda picks the message up, and a worker that runs out of time sends its job again from its
 * checkpoint. The message carries the job id alone; the job itself is in the jobs table.
 */
export class SqsJobQueue implements JobQueue {
  /**
   * @param client - The SQS client.
   * @param queueUrl - The worker queue (EXPORT_QUEUE_URL).
   */
  public constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  /** Sends `{ jobId }`. */
  public async start(jobId: string): Promise<void> {
    const message: JobMessage = { jobId };
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}
