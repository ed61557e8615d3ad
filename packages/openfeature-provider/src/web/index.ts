// @flagraft/openfeature-provider/web: the browser provider. Imports nothing
// from Node: bundle it with your app (esbuild, vite, ...).
export { FlagraftWebProvider } from './provider.js';
export type { FlagraftWebProviderOptions } from './provider.js';
export { EvaluationCounter, MAX_ENTRIES_PER_REPORT } from '../shared/metrics-hook.js';
export type { EvaluationCounterOptions } from '../shared/metrics-hook.js';
