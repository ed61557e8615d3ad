// Public API of @flagraft/consensus-node: the node for embedders (createConsensusNode,
// as main.ts uses it) and the local-cluster harness other apps' tests use.
export { createConsensusNode, type ConsensusNode, type ConsensusNodeDeps, type OutboxFactory } from './create.js';
export { loadConfigFromEnv, ConfigError, type NodeConfig } from './config.js';
export type { NodeStatus, MemberStatus } from './node-core.js';
export type { Outbox, OutboxContext, SnsOutboxConfig } from './outbox-types.js';
// Real node processes on free ports, for tests (moves to the testkit: issue 14, item 4).
export { startLocalCluster, type LocalCluster, type LocalNode, type LocalClusterOptions } from './local-cluster.js';
// Time: the injectable clock and the voters' median clock (for leader-proposed scheduled work too).
export { systemClock, ClusterClock, type Clock } from './clock.js';
