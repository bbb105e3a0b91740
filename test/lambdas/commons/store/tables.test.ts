import { describe, expect, it } from 'vitest';
import { IDENTITY_TABLE, STUDY_TABLE, tableNames, toCreateTableInput } from '../../../../lambdas/commons/store/tables.js';

describe('Function: toCreateTableInput', () => {
  it('declares each key attribute once, with the GSI and on-demand billing', () => {
    // Act
    const input = toCreateTableInput(STUDY_TABLE, 'x-study');

    // Assess
    expect(input).toEqual({
      TableName: 'x-study',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    expect(toCreateTableInput(IDENTITY_TABLE, 'x-identity')).toEqual({
      TableName: 'x-identity',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    expect(tableNames('nct')).toEqual({ study: 'nct-study', identity: 'nct-identity', jobs: 'nct-jobs', subscriptions: 'nct-subscriptions' });
  });
});
