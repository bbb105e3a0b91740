import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';

/** One SDK call as the fault plan sees it. */
export interface Call {
  /** e.g. `PutItemCommand`, `BatchWriteItemCommand` (the wire operation, also for DocumentClient commands). */
  readonly commandName: string;
  /** The command input (native values for DocumentClient commands). */
  readonly input: Record<string, unknown>;
  /** 1-based number of this write call (PutItem, UpdateItem, DeleteItem, BatchWriteItem) so far, or 0 for reads. */
  readonly writeNumber: number;
}

/** When the simulated process dies. After that, every call fails: nothing of it reaches the server. */
export interface FaultPlan {
  /** Die instead of making this call. */
  readonly crashBefore?: (call: Call) => boolean;
  /** Make this call, then die (its answer is lost). */
  readonly crashAfter?: (call: Call) => boolean;
}

/** A real client on dynalite whose process "crashes" at a chosen call. */
export interface FaultyClient {
  readonly client: DynamoDBClient;
  /** Whether the crash has happened. */
  crashed(): boolean;
  /** Write calls seen so far. */
  writes(): number;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

/** The error every call gets once the simulated process has crashed. */
export class SimulatedCrashError extends Error {
  public override readonly name = 'SimulatedCrashError';
}

/**
 * A DynamoDBClient to the same dynalite with a middleware that kills the "process" at a chosen
 * call: a wrapper around the real client (not a mock), so what did get through is really stored.
 * @param config - Config of the real client.
 * @param plan - When to crash.
 * @returns The client and probes.
 */
export function faultyClient(config: DynamoDBClientConfig, plan: FaultPlan): FaultyClient {
  const client = new DynamoDBClient({ ...config, maxAttempts: 1 });
  let dead = false;
  let writes = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (dead) throw new SimulatedCrashError('process is gone');
      const commandName = context.commandName ?? '';
      const call: Call = {
        commandName,
        input: args.input as Record<string, unknown>,
        writeNumber: WRITES.has(commandName) ? ++writes : 0,
      };
      if (plan.crashBefore?.(call)) {
        dead = true;
        throw new SimulatedCrashError(`crashed before ${commandName} #${call.writeNumber}`);
      }
      const result = await next(args);
      if (plan.crashAfter?.(call)) dead = true;
      return result;
    },
    { step: 'initialize', name: 'faultInjection' },
  );
  return { client, crashed: () => dead, writes: () => writes };
}
