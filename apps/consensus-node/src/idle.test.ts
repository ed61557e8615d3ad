// Idle mode (idle.ts) on three in-process nodes: real SQLite files, real
// RaftDriver, StateMachine and Proposer. Messages go through an in-process
// router instead of the gRPC transport (a stand-in, named so: it counts what
// leaves and can cut a node off with or without closing its "connections").
// The real transport's part (a killed leader's streams end at once) is checked
// with real processes in test/idle-cluster.test.ts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageType } from '@flagraft/raft-core';
import { DEFAULTS, type NodeConfig } from './config.js';
import type { IdleNotice } from './idle.js';
import { createLogger } from './log.js';
import { Proposer } from './proposer.js';
import { RaftDriver } from './raft-driver.js';
import { StateMachine, type Applied } from './state-machine.js';
import { DEFAULT_RETENTION } from './retention.js';
import { openStorage, type NodeStorage } from './storage/open.js';

interface TestNode { id: number; storage: NodeStorage; driver: RaftDriver<Applied>; proposer: Proposer; down: boolean }

const TICK_MS = 10;
const IDLE_TICK_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(5);
  }
  return Date.now() - started;
}

function cluster() {
  const dir = mkdtempSync(join(tmpdir(), 'flagraft-idle-'));
  const nodes = new Map<number, TestNode>();
  let heartbeats = 0;
  const members = [1, 2, 3].map((i) => ({ id: i, address: `in-process:${i}` }));
  for (const id of [1, 2, 3]) {
    const cfg = { ...DEFAULTS, nodeId: id, tickMs: TICK_MS, heartbeatMs: 2 * TICK_MS, electionTimeoutMs: 10 * TICK_MS, idleTickMs: IDLE_TICK_MS, metricsLogMs: 0 } as NodeConfig;
    mkdirSync(join(dir, `n${id}`));
    const storage = openStorage({ statePath: join(dir, `n${id}`, 'flagraft.db'), clusterId: 'c', nodeId: id, bootstrap: { members } });
    const fsm = new StateMachine(storage.state, { ...DEFAULT_RETENTION, changesRetentionRevisions: 1000, pruneEveryRevisions: 100 });
    let proposer: Proposer | undefined;
    const driver = new RaftDriver<Applied>(cfg, { log: storage.log, fsm, dataBytes: () => 0 }, createLogger({ node: id }, 'error', () => undefined), {
      onLeadership: (_l, _t, _lead, wasLeader) => { if (wasLeader) proposer?.leadershipLost(); },
      onResults: (applied) => proposer?.answer(applied.results),
      onApplied: () => undefined,
      clientAddressOf: () => undefined,
    });
    proposer = new Proposer(driver, cfg);
    nodes.set(id, { id, storage, driver, proposer, down: false });
  }
  const live = (id: number) => { const n = nodes.get(id); return n && !n.down ? n : undefined; };
  for (const n of nodes.values()) {
    n.driver.setTransport({
      send: (msgs) => {
        for (const m of msgs) {
          if (m.type === MessageType.MsgHeartbeat) heartbeats++;
          setImmediate(() => { if (!n.down) live(m.to)?.driver.step(m); });
        }
      },
      notify: (kind: IdleNotice, term: number) => {
        for (const to of [1, 2, 3]) if (to !== n.id) setImmediate(() => { if (!n.down) live(to)?.driver.onIdleNotice(n.id, kind, term); });
      },
      isReachable: (id) => !!live(id),
      supportsIdle: (id) => !!live(id),
    });
  }
  for (const n of nodes.values()) n.driver.start();
  const flag = (key: string) => ({ key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] });
  return {
    nodes,
    heartbeats: () => heartbeats,
    leader: () => [...nodes.values()].find((n) => !n.down && n.driver.isLeader()),
    allIdle: () => [...nodes.values()].filter((n) => !n.down).every((n) => n.driver.isIdle()),
    write: (n: TestNode, key: string) => n.proposer.propose({ actor: 't', op: 'putFlag', flag: flag(key) }),
    /** Cuts node `id` off; `closed`: its peers see its streams end (a killed process), else it just goes silent (a partition). */
    down(id: number, closed: boolean) {
      const n = nodes.get(id)!;
      n.down = true;
      n.driver.stop();
      if (closed) for (const o of nodes.values()) if (o !== n) o.driver.onPeerStreamEnded(id);
    },
    close() {
      for (const n of nodes.values()) {
        n.driver.stop();
        n.proposer.stop();
        n.storage.log.close();
        n.storage.state.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('idle mode on three in-process nodes', () => {
  let c: ReturnType<typeof cluster> | undefined;
  afterEach(() => { c?.close(); c = undefined; });

  it('slows the whole cluster down when nothing happens, wakes it for a write, and sends far fewer heartbeats while idle', async () => {
    c = cluster();
    await until('a leader', () => !!c!.leader(), 10_000);
    // Busy: a write every 20 ms keeps the normal clock; count the heartbeats of one second.
    let h0 = c.heartbeats();
    const busyUntil = Date.now() + 1000;
    while (Date.now() < busyUntil) {
      expect((await c.write(c.leader()!, 'busy')).ok).toBe(true);
      expect(c.leader()!.driver.isIdle()).toBe(false);
      await sleep(20);
    }
    const busyBeats = c.heartbeats() - h0;
    await until('every node idle', () => c!.allIdle(), 10_000);
    h0 = c.heartbeats();
    await sleep(1000);
    const idleBeats = c.heartbeats() - h0;
    expect(c.allIdle(), 'still idle after a quiet second').toBe(true);
    // 20 ms heartbeats to two followers when busy, 600 ms when idle.
    expect(busyBeats).toBeGreaterThan(40);
    expect(idleBeats).toBeLessThan(busyBeats / 5);

    // A write wakes the leader at once and the followers with it; then the cluster idles again.
    const leader = c.leader()!;
    const t0 = Date.now();
    expect((await c.write(leader, 'after-idle')).ok).toBe(true);
    expect(Date.now() - t0, 'a write on an idle cluster is not slowed by the idle tick').toBeLessThan(IDLE_TICK_MS);
    await until('followers awake', () => [...c!.nodes.values()].every((n) => !n.driver.isIdle()), 2000);
    await until('idle again', () => c!.allIdle(), 10_000);
  });

  it('replaces a killed idle leader at the normal pace (its closed streams wake the followers)', async () => {
    c = cluster();
    await until('a leader', () => !!c!.leader(), 10_000);
    expect((await c.write(c.leader()!, 'k')).ok).toBe(true);
    await until('every node idle', () => c!.allIdle(), 10_000);
    const old = c.leader()!;
    c.down(old.id, true);
    // Asleep, the followers would wait 10-20 idle ticks (>= 3 s) from the last idle heartbeat.
    const ms = await until('a new leader', () => !!c!.leader(), 10_000);
    expect(ms).toBeLessThan(2000);
    expect((await c.write(c.leader()!, 'k2')).ok).toBe(true);
  });

  it('still replaces a leader that goes silent while idle (a partition), within the idle election timeout', async () => {
    c = cluster();
    await until('a leader', () => !!c!.leader(), 10_000);
    await until('every node idle', () => c!.allIdle(), 10_000);
    const old = c.leader()!;
    c.down(old.id, false);
    // 10-20 idle ticks of 300 ms after the last heartbeat, then an election at the normal pace.
    await until('a new leader', () => !!c!.leader(), 15_000);
    expect((await c.write(c.leader()!, 'k3')).ok).toBe(true);
  });
});
