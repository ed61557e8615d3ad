// Public API of @flagraft/consensus-node: the node for embedders (createConsensusNode,
// as main.ts uses it). Real node processes for tests: @flagraft/testkit.
export { createConsensusNode, type ConsensusNode, type ConsensusNodeDeps, type OutboxFactory } from './create.js';
export { loadConfigFromEnv, ConfigError, type NodeConfig } from './config.js';
export type { NodeStatus, MemberStatus } from './node-core.js';
export type { Outbox, OutboxContext, SnsOutboxConfig } from './outbox-types.js';
// Time: the injectable clock and the voters' median clock (for leader-proposed scheduled work too).
export { systemClock, ClusterClock, type Clock } from './clock.js';
