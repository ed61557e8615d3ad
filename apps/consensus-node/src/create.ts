import type { NodeConfig } from './config.js';
import { ConsensusNodeCore, type NodeStatus } from './node-core.js';

export interface ConsensusNode {
  readonly nodeId: number;
  /** host:port clients and peers reach this node at (known after start()). */
  readonly address: string;
  start(): Promise<void>;
  close(): Promise<void>;
  status(): NodeStatus;
  /** Re-reads the TLS files now (SIGHUP); false if the new ones are invalid (the old ones stay). */
  reloadCertificates(): boolean;
}

export function createConsensusNode(config: NodeConfig): ConsensusNode {
  const core = new ConsensusNodeCore(config);
  return {
    nodeId: config.nodeId,
    get address() { return core.address; },
    start: () => core.start(),
    close: () => core.close(),
    status: () => core.status(),
    reloadCertificates: () => core.security.reload(),
  };
}
