// What bench/notifications/*.ts import: bench/ is not a workspace package, so
// its scripts reach the relay's dependencies through this module.
export * from './helpers.js';
export { startLocalCluster } from '@flagraft/testkit';
export { createClusterClient } from '@flagraft/cluster-client';
export { WebSocket } from 'ws';
export { hashToken, EventKeyRing, EventKeySet, EVENT_SIGNATURE_ATTRIBUTE } from '@flagraft/auth';
export { SQSClient, PurgeQueueCommand } from '@aws-sdk/client-sqs';
