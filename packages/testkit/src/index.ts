// Public API of @flagraft/testkit: what the launchers (scripts/start.mjs,
// apps/torture) and the tests of the other packages use, named explicitly.
export { freePort, portIsFree, waitFor, isAlive, stopPid, spawnProcess, type Proc } from './process.js';
export { startLocalCluster, NODE_MAIN_JS, type LocalCluster, type LocalNode, type LocalClusterOptions } from './local-cluster.js';
export { createMemoryCluster, type MemoryCluster, type MemoryClusterOptions, type ClusterApi } from './memory-cluster.js';
export { startEmulator, startGatewayProcess, type Emulator, type GatewayProcess } from './components.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { sseBlocks, type SseBlock, type SseFrame } from './sse.js';
