/**
 * Errors the DynamoDB store raises. The router edge turns them into OperationOutcomes
 * (`ResourceTooLargeError` and `InvalidResourceError` → 400, `StoreConflictError` → 409).
 */

/** The resource (after compression) cannot fit a DynamoDB item (400 KB). */
export class ResourceTooLargeError extends Error {
  public override readonly name = 'ResourceTooLargeError';
  public constructor(
    public readonly reference: string,
    public readonly bytes: number,
    public readonly limit: number,
  ) {
    super(`${reference} is too large to store: ${bytes} bytes after compression, limit ${limit}`);
  }
}

/** The resource or commit is malformed (bad id, missing resourceType, the same resource twice in one transaction). */
export class InvalidResourceError extends Error {
  public override readonly name = 'InvalidResourceError';
}

/** A search the store cannot answer as asked (bad date bound, a cursor from another query). */
export class InvalidQueryError extends Error {
  public override readonly name = 'InvalidQueryError';
}

/**
 * Another commit holds a version slot of the same resource and did not finish in time, or the
 * commit was aborted by the sweep for taking too long. Retrying the whole commit is safe.
 */
export class StoreConflictError extends Error {
  public override readonly name = 'StoreConflictError';
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** BatchWriteItem kept returning unprocessed items after every retry. */
export class StoreThrottledError extends Error {
  public override readonly name = 'StoreThrottledError';
}
