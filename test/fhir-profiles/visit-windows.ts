import { z } from 'zod';

/** Shape of Conformance.visitWindows(), checked strictly so extra or missing fields fail. */
export const VisitWindowsSchema = z.array(
  z.strictObject({ code: z.string(), display: z.string().optional(), startDay: z.number().int(), endDay: z.number().int() }),
);
