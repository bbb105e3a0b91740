/** The predict function's pure core: model specification, features, prediction, fitting and the analysis dataset. */
export * from './apply.js';
export * from './cohort.js';
export * from './dataset.js';
export * from './features.js';
export * from './fit.js';
export * from './model-spec.js';
export * from './predict.js';
