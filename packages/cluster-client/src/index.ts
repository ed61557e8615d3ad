export { createClusterClient, clusterSecurityFromEnv } from './client.js';
export type {
  ClusterClient, ClusterClientOptions, ClusterStatus, MemberInfo, ChangeEvent, WatchOptions, WriteOptions, WriteIdempotency, Consistency, BackupData, RestoreResult,
} from './client.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export { parseReadFrom, READ_FROM_VALUES, type ReadFrom } from './read-targets.js';
export type { TlsFiles } from '@flagraft/identity';
