// The same conformance suite against a real 3-node cluster (node processes,
// SQLite, gRPC with mutual TLS) through @flagraft/cluster-client.
import { afterAll, beforeAll } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '../src/index.js';
import { clusterConformance } from './conformance.js';

let cluster: LocalCluster;
let client: ClusterClient;
beforeAll(async () => {
  cluster = await startLocalCluster({ size: 3 });
  client = createClusterClient(cluster.clientOptions());
});
afterAll(async () => {
  client?.close();
  await cluster?.stop();
});
clusterConformance('real 3-node cluster', () => client);
