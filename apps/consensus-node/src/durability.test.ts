// The durability rules of durability.ts, checked on three in-process nodes
// (real SQLite files, real RaftDriver, StateMachine and Proposer). Messages go
// through an in-process router instead of the gRPC transport (a stand-in,
// named so: it is where every outgoing message can be inspected at the moment
// it leaves), and a second, read-only connection to each node's files tells
// what was committed to them by then.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, type Message } from '@flagraft/raft-core';
import { DEFAULTS, type NodeConfig } from './config.js';
import { createLogger } from './log.js';
import { Proposer } from './proposer.js';
import { RaftDriver } from './raft-driver.js';
import { StateMachine, type Applied } from './state-machine.js';
import { DEFAULT_RETENTION } from './retention.js';
import { openStorage, type NodeStorage } from './storage/open.js';

interface TestNode {
  id: number;
  storage: NodeStorage;
  driver: RaftDriver<Applied>;
  proposer: Proposer;
  /** Read-only views of the node's two files: what is committed there. */
  logView: Database.Database;
  stateView: Database.Database;
}

const SNAPSHOT_EVERY = 25;
const CATCH_UP = 5;

describe('durability rules on three in-process nodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flagraft-durability-'));
  const nodes = new Map<number, TestNode>();
  const violations: string[] = [];
  let earlyAppends = 0;
  let checkedAcks = 0;
  let checkedVotes = 0;

  const lastLogIndex = (n: TestNode) => (n.logView.prepare('SELECT MAX(idx) FROM log').pluck().get() as number | null) ?? 0;
  const meta = (db: Database.Database, k: string) => Number(db.prepare('SELECT v FROM meta WHERE k = ?').pluck().get(k));

  /** Every rule that can be seen from outside at the moment a message leaves node `from`. */
  function inspect(from: TestNode, m: Message): void {
    if (m.type === MessageType.MsgAppResp && !m.reject) {
      checkedAcks++;
      if (lastLogIndex(from) < m.index) violations.push(`node ${from.id} acknowledged index ${m.index} with only ${lastLogIndex(from)} in its log file`);
    }
    if (m.type === MessageType.MsgVoteResp && !m.reject) {
      checkedVotes++;
      const h = from.logView.prepare('SELECT term, vote FROM hard_state WHERE id = 1').get() as { term: number; vote: number };
      if (h.term !== m.term || h.vote !== m.to) violations.push(`node ${from.id} granted its vote to ${m.to} in term ${m.term} with hard state ${JSON.stringify(h)} on disk`);
    }
    if (m.type === MessageType.MsgApp && m.entries.length && lastLogIndex(from) < m.entries[m.entries.length - 1].index) earlyAppends++;
    // Compaction: the state file is past every index the log file dropped.
    if (meta(from.stateView, 'applied') < meta(from.logView, 'compact_index')) violations.push(`node ${from.id}: log compacted past the state's applied index`);
  }

  beforeAll(async () => {
    const initialCluster = new Map([[1, 'in-process:1'], [2, 'in-process:2'], [3, 'in-process:3']]);
    for (const id of [1, 2, 3]) {
      const cfg = { ...DEFAULTS, nodeId: id, snapshotEveryEntries: SNAPSHOT_EVERY, snapshotCatchUpEntries: CATCH_UP, metricsLogMs: 0 } as NodeConfig;
      mkdirSync(join(dir, `n${id}`));
      const storage = openStorage({ statePath: join(dir, `n${id}`, 'flagraft.db'), clusterId: 'c', nodeId: id, bootstrap: { members: [...initialCluster].map(([i, address]) => ({ id: i, address })) } });
      const fsm = new StateMachine(storage.state, { ...DEFAULT_RETENTION, changesRetentionRevisions: 1000, pruneEveryRevisions: 100 });
      const log = createLogger({ node: id }, 'error', () => undefined);
      let proposer: Proposer | undefined;
      const driver = new RaftDriver<Applied>(cfg, { log: storage.log, fsm, dataBytes: () => 0 }, log, {
        onLeadership: (_isLeader, _term, _lead, wasLeader) => { if (wasLeader) proposer?.leadershipLost(); },
        onResults: (applied) => proposer?.answer(applied.results),
        onApplied: () => undefined,
        clientAddressOf: () => undefined,
      });
      proposer = new Proposer(driver, cfg);
      const logView = new Database(join(dir, `n${id}`, 'raft-log.db'), { readonly: true, fileMustExist: true });
      const stateView = new Database(join(dir, `n${id}`, 'flagraft.db'), { readonly: true, fileMustExist: true });
      nodes.set(id, { id, storage, driver, proposer, logView, stateView });
    }
    for (const n of nodes.values()) {
      n.driver.setTransport({
        send: (msgs) => {
          for (const m of msgs) {
            inspect(n, m);
            setImmediate(() => nodes.get(m.to)?.driver.step(m));
          }
        },
        // No idle mode here: these nodes never say they understand it.
        notify: () => undefined,
        isReachable: () => true,
        supportsIdle: () => false,
      });
      n.driver.start();
    }
  });

  afterAll(() => {
    for (const n of nodes.values()) {
      n.driver.stop();
      n.proposer.stop();
      n.logView.close();
      n.stateView.close();
      n.storage.log.close();
      n.storage.state.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges and votes only what is in the log file, replicates before its own fsync as leader, compacts behind the state', async () => {
    const deadline = Date.now() + 15_000;
    let leader: TestNode | undefined;
    while (!leader && Date.now() < deadline) {
      leader = [...nodes.values()].find((n) => n.driver.isLeader());
      if (!leader) await new Promise((r) => setTimeout(r, 20));
    }
    expect(leader, 'a leader within 15 s').toBeDefined();
    const flag = (key: string) => ({ key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] });
    // Concurrent writes so Readies carry several entries and the leader's MsgApps overlap its fsyncs.
    for (let round = 0; round < 4; round++) {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => leader!.proposer.propose({ actor: 't', op: 'putFlag', flag: flag(`k${round}-${i}`) })));
      expect(outcomes.every((o) => o.ok)).toBe(true);
    }
    // Every node applies everything (followers learn the commit index with the next heartbeat).
    const last = leader!.driver.appliedIndex();
    while ([...nodes.values()].some((n) => n.driver.appliedIndex() < last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const n of nodes.values()) {
      expect(n.driver.appliedIndex()).toBeGreaterThanOrEqual(last);
      // The log was compacted (more than SNAPSHOT_EVERY entries applied), never past the state.
      expect(meta(n.logView, 'compact_index')).toBeGreaterThan(0);
      expect(meta(n.stateView, 'applied')).toBeGreaterThanOrEqual(meta(n.logView, 'compact_index'));
    }
    expect(violations).toEqual([]);
    expect(checkedVotes).toBeGreaterThan(0);
    expect(checkedAcks).toBeGreaterThan(20);
    expect(earlyAppends).toBeGreaterThan(0);
  });
});
