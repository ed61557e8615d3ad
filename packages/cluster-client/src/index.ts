export { createClusterClient, clusterSecurityFromEnv } from './client.js';
export type {
  ClusterClient, ClusterClientOptions, ClusterStatus, MemberInfo, ChangeEvent, WatchOptions, WriteOptions, WriteIdempotency, Consistency, BackupData, RestoreResult,
} from './client.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export type { TlsFiles } from '@flagraft/identity';
