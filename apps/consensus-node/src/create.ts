import type { NodeConfig } from './config.js';
import { ConsensusNodeCore, type NodeStatus, type OutboxFactory } from './node-core.js';

export type { OutboxFactory };

export interface ConsensusNode {
  readonly nodeId: number;
  /** host:port clients reach this node at (known after start()). */
  readonly address: string;
  start(): Promise<void>;
  close(): Promise<void>;
  status(): NodeStatus;
  /** Re-reads the TLS files now (SIGHUP); false if the new ones are invalid (the old ones stay). */
  reloadCertificates(): boolean;
}

export interface ConsensusNodeDeps {
  /** Makes the SNS outbox when the config names a topic (main.ts passes src/outbox's createSnsOutbox, loaded on demand). */
  outbox?: OutboxFactory;
}

export function createConsensusNode(config: NodeConfig, deps: ConsensusNodeDeps = {}): ConsensusNode {
  const core = new ConsensusNodeCore(config, deps.outbox);
  return {
    nodeId: config.nodeId,
    get address() { return core.address; },
    start: () => core.start(),
    close: () => core.close(),
    status: () => core.status(),
    reloadCertificates: () => core.security.reload(),
  };
}
