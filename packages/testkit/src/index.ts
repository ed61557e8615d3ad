// Public API of @flagraft/testkit: what launchers and tests of the other
// packages use, named explicitly.
export {
  freePorts, freePort, portIsFree, waitFor, GiveUp, isAlive, stopPid, spawnProcess,
  DEFAULT_POLL_MS, DEFAULT_STOP_GRACE_MS, DEFAULT_TAIL_LINES,
  type WaitOptions, type SpawnOptions, type Proc,
} from './process.js';
export {
  startLocalCluster, testPki, nodeStatus, NODE_MAIN_JS, NODE_STOP_GRACE_MS,
  type LocalCluster, type LocalNode, type LocalClusterOptions, type LocalClientOptions,
} from './local-cluster.js';
export {
  createMemoryCluster, MEMORY_DEFAULT_PAGE_LIMIT, MEMORY_MAX_PAGE_LIMIT, MEMORY_PROGRESS_MS,
  type MemoryCluster, type MemoryClusterOptions, type ClusterApi,
} from './memory-cluster.js';
export {
  startEmulator, createTopic, startGatewayProcess, GATEWAY_MAIN_JS, RELAY_MAIN_JS, DASHBOARD_SERVER_JS, GATEWAY_READY_TIMEOUT_MS,
  type Emulator, type GatewayProcess,
} from './components.js';
