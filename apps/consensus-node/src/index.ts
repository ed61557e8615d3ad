export { ConsensusNodeCore, type NodeStatus, type MemberStatus } from './node-core.js';
export { loadConfigFromEnv, parseMembers, ConfigError, DEFAULTS, type NodeConfig } from './config.js';
export { registerOutboxFactory, type OutboxFactory } from './outbox-registry.js';
export type { ChangeEvent, Outbox, OutboxContext, SnsOutboxConfig, LogLevel } from './outbox-types.js';
export { startLocalCluster, type LocalCluster, type LocalNode, type LocalClusterOptions } from './local-cluster.js';
export { createConsensusNode, type ConsensusNode } from './create.js';
export { StoreOpenError, StoreCorruptError } from './storage/sqlite-store.js';
export { findProtoDir } from './proto-files.js';
