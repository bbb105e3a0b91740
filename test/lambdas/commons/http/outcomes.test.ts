import { describe, expect, it } from 'vitest';
import { errorLogFields, httpStatus, outcomeOf } from '../../../../lambdas/commons/http/outcomes.js';

describe('Function: errorLogFields', () => {
  it('names the error and where it was thrown, never its message', () => {
    const fields = errorLogFields(new TypeError('Cannot read Lovelace of MRN-123'));
    expect(fields.error).toBe('TypeError');
    expect(fields.at).toMatch(/^at /);
    expect(JSON.stringify(fields)).not.toMatch(/Lovelace|MRN-123/);
  });
});

describe('Function: outcomeOf', () => {
  it.each([
    ['InvalidQueryError', 400],
    ['StoreConflictError', 409],
    ['StoreThrottledError', 503],
    ['ProvisionedThroughputExceededException', 503],
    ['TypeError', 500],
  ])('answers a %s with %d', (name, status) => {
    const err = Object.assign(new Error('detail'), { name });
    expect(httpStatus(outcomeOf(err))).toBe(status);
  });
});
