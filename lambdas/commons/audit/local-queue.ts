import type { Logger } from '@aws-lambda-powertools/logger';
import type { StudyStore } from '../store/port.js';
import type { AccessRecord } from './access-record.js';
import type { AuditPort } from './port.js';
import { writeAuditEvents } from './write.js';

/** Records committed per store call. */
const BATCH = 100;
/** After a failed flush, the next try (the records stay queued). */
const RETRY_MS = 1000;
/**
 * How long records gather before a flush on its own: one store transaction of many AuditEvents costs
 * far less than one each, and the commit work then competes less with the requests being answered.
 */
const GATHER_MS = 50;

/**
 * The local run's audit queue: `record` only appends (the request is not held up), a flush a few
 * milliseconds later commits the AuditEvents gathered meanwhile in one transaction, a failed batch
 * stays queued and is retried, and `flush()` waits until the queue is empty (the local server calls it before a read of
 * AuditEvents, so a reader sees every access answered before its own, and on close).
 *
 * Held in memory: a crash of the local process loses what was not yet flushed (a few ms of
 * accesses). The local run is a development tool; in AWS each function writes an access-record log line that a
 * subscription filter hands to the audit function (infra/audit.ts).
 */
export class LocalAuditQueue implements AuditPort {
  private pending: AccessRecord[] = [];
  private running: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private gather: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: StudyStore,
    private readonly logger: Logger,
  ) {
  }

  record(record: AccessRecord): Promise<void> {
    this.pending.push(record);
    if (!this.gather && !this.retry) {
      this.gather = setTimeout(() => {
        this.gather = undefined;
        void this.flush().catch(() => undefined);
      }, GATHER_MS);
      this.gather.unref();
    }
    return Promise.resolve();
  }

  /** Records waiting to be committed. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Commits everything queued so far, joining a flush under way.
   * @returns When the queue is empty, or rejects if the store refused.
   */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.running) {
      if (this.running) {
        await this.running;
        continue;
      }
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
      await this.running;
    }
  }

  /** Stops the timers (the caller flushes first). */
  close(): void {
    if (this.retry) clearTimeout(this.retry);
    if (this.gather) clearTimeout(this.gather);
    this.retry = undefined;
    this.gather = undefined;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, BATCH);
      let results;
      try {
        results = await writeAuditEvents(this.store, batch);
      } catch (err) {
        this.scheduleRetry(err);
        throw err;
      }
      const failed = batch.filter((_, i) => results[i]?.status === 'error');
      this.pending = [...failed, ...this.pending.slice(batch.length)];
      if (failed.length > 0) {
        this.scheduleRetry(new Error(`${failed.length} AuditEvents not committed`));
        throw new Error(`${failed.length} AuditEvents not committed`);
      }
    }
  }

  private scheduleRetry(err: unknown): void {
    this.logger.warn('Audit flush failed; retrying', { error: (err as Error)?.name ?? typeof err, queued: this.pending.length });
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.flush().catch(() => undefined);
    }, RETRY_MS);
    this.retry.unref();
  }
}
