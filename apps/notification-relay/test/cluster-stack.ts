// The end-to-end setup the cluster tests share: the fauxqs emulator, a relay
// with its own topic and queue, and a real 3-node cluster whose leader
// publishes through the SNS outbox to that topic (through a cuttable TCP
// proxy when a test takes SNS away). stop() stops whatever started, in
// reverse order, also after a start that failed half way.
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, startTcpProxy, type LocalCluster, type TcpProxy } from '@flagraft/testkit';
import type { RelayOptions } from '../src/index.js';
import { EVENT_KEYS_FILE, startEmulator, startRelay, type RelayFixture, type TestClient } from './helpers.js';

export interface StackOptions {
  /** The relay's options (auth, gap timeout, ...). */
  relay?: Partial<RelayOptions>;
  /** Route the cluster's SNS calls through a TCP proxy the test can switch off. */
  proxy?: boolean;
}

export interface ClusterStack {
  emu?: Awaited<ReturnType<typeof startEmulator>>;
  proxy?: TcpProxy;
  relay?: RelayFixture;
  cluster?: LocalCluster;
  client?: ClusterClient;
  /** WebSocket clients the test opened: closed first by stop(). */
  readonly sockets: TestClient[];
  start(opts?: StackOptions): Promise<{ emu: NonNullable<ClusterStack['emu']>; proxy?: TcpProxy; relay: RelayFixture; cluster: LocalCluster; client: ClusterClient }>;
  /** A (new) relay on the emulator; the one stop() closes from now on. */
  startRelay(opts?: Partial<RelayOptions> & { topicArn?: string; queueName?: string }): Promise<RelayFixture>;
  /** A (new) 3-node cluster publishing to the relay's topic, and its client; the ones stop() stops from now on. */
  startCluster(opts?: { clusterId?: string }): Promise<{ cluster: LocalCluster; client: ClusterClient }>;
  stop(): Promise<void>;
}

export function clusterStack(): ClusterStack {
  const s: ClusterStack = {
    sockets: [],
    async start(opts = {}) {
      const emu = (s.emu = await startEmulator());
      if (opts.proxy) s.proxy = await startTcpProxy(emu.server.port);
      const relay = await s.startRelay(opts.relay);
      return { emu, proxy: s.proxy, relay, ...(await s.startCluster()) };
    },
    async startRelay(opts = {}) {
      if (!s.emu) throw new Error('cluster stack: startRelay before start');
      s.relay = await startRelay(s.emu.endpoint, opts);
      return s.relay;
    },
    async startCluster(opts = {}) {
      if (!s.emu || !s.relay) throw new Error('cluster stack: startCluster before start');
      const cluster = (s.cluster = await startLocalCluster({
        size: 3,
        ...opts,
        env: {
          FLAGRAFT_SNS_TOPIC_ARN: s.relay.topicArn, FLAGRAFT_SNS_ENDPOINT: s.proxy ? `http://127.0.0.1:${s.proxy.port}` : s.emu.endpoint,
          FLAGRAFT_SNS_REGION: 'us-east-1', FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE,
        },
      }));
      const client = (s.client = createClusterClient({ ...cluster.clientOptions(), retryDeadlineMs: 30_000 }));
      return { cluster, client };
    },
    async stop() {
      for (const c of s.sockets) await c.close();
      s.client?.close();
      await s.cluster?.stop();
      await s.relay?.relay.close();
      await s.proxy?.close();
      await s.emu?.stop();
    },
  };
  return s;
}
