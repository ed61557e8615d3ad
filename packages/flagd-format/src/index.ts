// @flagraft/flagd-format: flagd flag-definition files to and from flagraft.
export { fromFlagd } from './import.js';
export type { FlagdImport } from './import.js';
export { toFlagd, MISSING_BUCKET_VARIANT } from './export.js';
export type { FlagdExport } from './export.js';
export { planImport } from './plan.js';
export type { PlanAction, PlanEntry } from './plan.js';
export { notPrefixPattern, notSuffixPattern, normalizeVersion, MAX_DNF_TERMS } from './logic.js';
export type { Issue } from './types.js';
