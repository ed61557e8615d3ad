// @flagraft/openfeature-provider (Node): in-process evaluation with live sync.
// The browser provider is the `./web` entry point (@flagraft/openfeature-provider/web).
export { FlagraftProvider, DEFAULT_MAX_SNAPSHOT_BYTES } from './server/provider.js';
export type { FlagraftProviderOptions } from './server/provider.js';
export type { RelayOptions } from './server/transport.js';
export { FlagStore } from './server/store.js';
export type { Snapshot } from './server/store.js';
export { EvaluationCounter, MAX_ENTRIES_PER_REPORT } from './shared/metrics-hook.js';
export type { EvaluationCounterOptions } from './shared/metrics-hook.js';
export { toResolution } from './shared/details.js';
