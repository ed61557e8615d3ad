import * as grpc from '@grpc/grpc-js';
import type { ClusterClient } from '@flagraft/cluster-client';
import { CertificateStore, SECURE_CHANNEL_OPTIONS, channelCredentials, type ServiceRole } from '@flagraft/identity';
import { waitFor as tkWaitFor, type LocalCluster } from '@flagraft/testkit';
import { serviceOf } from '../src/proto-files.js';

/** A raw gRPC client to a node's client port with a service certificate of the cluster (plain text if the cluster is). */
export async function rawClient(cluster: LocalCluster, address: string, role: ServiceRole = 'gateway', name = 'test'): Promise<grpc.Client> {
  const Ctor = grpc.Client as unknown as new (a: string, c: grpc.ChannelCredentials, o?: object) => grpc.Client;
  return connect(Ctor, cluster, address, role, name);
}

/** The Flags service client (proto/flags.proto) on one node, with a service certificate of the cluster. */
export async function flagsClient(cluster: LocalCluster, address: string, role: ServiceRole = 'gateway', name = 'test'): Promise<any> {
  return connect(serviceOf('flagraft.v1.Flags') as unknown as new (a: string, c: grpc.ChannelCredentials, o?: object) => grpc.Client, cluster, address, role, name);
}

async function connect<C>(Ctor: new (a: string, c: grpc.ChannelCredentials, o?: object) => C, cluster: LocalCluster, address: string, role: ServiceRole, name: string): Promise<C> {
  const tls = await cluster.serviceTls(role, name);
  return tls ? new Ctor(address, channelCredentials(new CertificateStore(tls)), SECURE_CHANNEL_OPTIONS) : new Ctor(address, grpc.credentials.createInsecure());
}

export function flag(key: string, note = '') {
  return { key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], description: note };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (testkit's waitFor; errors are retried). */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 20): Promise<T> {
  return tkWaitFor(what, { timeoutMs, everyMs }, fn) as Promise<T>;
}

/** Closed-loop writers on unique keys; records every acknowledged write and when. */
export function writeLoad(client: ClusterClient, prefix: string, writers = 8) {
  const acked = new Map<string, { revision: number; at: number }>();
  const failed: string[] = [];
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: writers }, async () => {
    while (!stopped) {
      const key = `${prefix}-${++n}`;
      try {
        const r = await client.putFlag(flag(key, key), { actor: 'load' });
        acked.set(key, { revision: r.revision, at: Date.now() });
      } catch (e) {
        failed.push(`${key}: ${(e as Error).message}`);
        // A write that fails at once must not turn this loop into a microtask spin that starves every timer.
        await new Promise((r) => setImmediate(r));
      }
    }
  });
  return {
    acked,
    failed,
    count: () => acked.size,
    async stop() { stopped = true; await Promise.all(loops); },
  };
}

/** Every acknowledged write is present exactly once (version 1, one history entry) with its value. */
export async function verifyAcked(client: ClusterClient, acked: Map<string, { revision: number }>): Promise<void> {
  const missing: string[] = [];
  const keys = [...acked.keys()];
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(keys.slice(i, i + 32).map(async (k) => {
      const f = await client.getFlag(k);
      if (!f) { missing.push(`${k} missing`); return; }
      if (f.flag.description !== k) missing.push(`${k} has wrong value`);
      if (f.version !== 1) missing.push(`${k} applied ${f.version} times`);
      if (f.modRevision !== acked.get(k)!.revision) missing.push(`${k} revision ${f.modRevision} != acked ${acked.get(k)!.revision}`);
    }));
  }
  if (missing.length) throw new Error(`${missing.length} acknowledged writes wrong: ${missing.slice(0, 10).join('; ')}`);
}
