import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../commons/config.js';
import type { JobFiles } from '../commons/jobs/files.js';
import type { JobStore } from '../commons/jobs/port.js';
import type { StudyStore } from '../commons/store/port.js';
import { studyDataDir } from '../commons/study-context.js';
import { activeModel, loadModels } from '../predict/core/model-spec.js';
import type { ExportWorkerDeps } from './core/run-export.js';
import type { ExportHttpDeps, JobQueue } from './export-request.js';

/** The adapters the export function runs over: DynamoDB (store, jobs), files (S3 or DATA_DIR), the worker queue (SQS or in process). */
export interface ExportAdapters {
  readonly config: Config;
  readonly store: StudyStore;
  readonly jobs: JobStore;
  readonly files: JobFiles;
  readonly queue: JobQueue;
  readonly logger: Logger;
}

/**
 * The export function's composition root: the request side (kick-off, status, cancel) and the worker.
 * @param adapters - The ports.
 * @returns Both sides' dependencies.
 */
export function exportDeps(adapters: ExportAdapters): { http: ExportHttpDeps & { publicBaseUrl?: string }; worker: (timeLeft?: () => boolean) => ExportWorkerDeps } {
  const { config, store, jobs, files, queue, logger } = adapters;
  const now = (): Date => new Date();
  return {
    http: { jobs, files, queue, logger, now, ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}) },
    worker: (timeLeft) => {
      const model = activeModel(loadModels(studyDataDir(config, 'models')));
      return { store, jobs, files, logger, now, base: config.CANONICAL_BASE, ...(model ? { model } : {}), ...(timeLeft ? { timeLeft } : {}) };
    },
  };
}
