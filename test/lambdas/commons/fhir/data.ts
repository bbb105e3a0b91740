import { fileURLToPath } from 'node:url';

/** Root of the shared, read-only public test data. */
export const DATA_DIR = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
