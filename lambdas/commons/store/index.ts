/** The study store: the port, its DynamoDB adapter and the table definitions. */
export type * from './port.js';
export { DynamoStudyStore, type DynamoStudyStoreOptions, type SweepReport } from './dynamo-study-store.js';
export { DynamoIdentityStore, randomPseudonym, type DynamoIdentityStoreOptions } from './dynamo-identity-store.js';
export {
  ensureTables,
  IDENTITY_TABLE,
  STUDY_GSI,
  STUDY_TABLE,
  TABLES,
  tableName,
  tableNames,
  toCreateTableInput,
  type GlobalIndexDefinition,
  type KeyAttribute,
  type TableDefinition,
  type TableNames,
} from './tables.js';
export * from './errors.js';
