// A small synchronous in-memory cluster for unit-level protocol tests:
// every node follows the Ready contract against its own MemoryStorage;
// messages go through a queue the test can filter (drop / isolate).
import { RawNode, MemoryStorage, createRng, EntryType, ConfChangeType, StateType, decodeConfChange } from '../../src/index.js';
import type { Config, ConfChange, Message, NodeId, ConfState, Entry, Ready } from '../../src/index.js';

export interface TestNode {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  confState: ConfState;
}

export interface ClusterOptions {
  voters?: NodeId[];
  seed?: number;
  config?: Partial<Config>;
  /** Build each node (tests inject buggy variants from test/sim/bugs.ts here). */
  makeRawNode?: (cfg: Config) => RawNode;
  /** The application snapshots whenever it applies a conf change, so nodes that join later can be caught up. */
  snapshotOnConfApply?: boolean;
}

export class TestCluster {
  nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  isolated = new Set<NodeId>();
  readonly seed: number;
  readonly config: Partial<Config>;
  delivered = 0;
  private readonly makeRawNode: (cfg: Config) => RawNode;
  private readonly snapshotOnConfApply: boolean;

  constructor(opts: ClusterOptions = {}) {
    const voters = opts.voters ?? [1, 2, 3];
    this.seed = opts.seed ?? 1;
    this.config = opts.config ?? {};
    this.makeRawNode = opts.makeRawNode ?? ((cfg) => new RawNode(cfg));
    this.snapshotOnConfApply = opts.snapshotOnConfApply ?? false;
    for (const id of voters) this.addNode(id, new MemoryStorage({ voters }));
  }

  addNode(id: NodeId, storage: MemoryStorage, applied = 0): TestNode {
    const node = this.makeRawNode({ id, storage, electionTick: 10, heartbeatTick: 1, applied, rng: createRng(this.seed * 1000 + id), ...this.config });
    const tn: TestNode = { id, node, storage, applied: [], confState: storage.initialState().confState };
    this.nodes.set(id, tn);
    return tn;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  heal(): void {
    this.isolated.clear();
    this.filter = () => true;
  }

  private allowed(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false;
    return this.filter(m);
  }

  /** Process every Ready and deliver every message until quiescent. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const n of this.nodes.values()) {
        if (!n.node.hasReady()) continue;
        progressed = true;
        this.handleReady(n);
      }
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        progressed = true;
        if (!this.allowed(m)) continue;
        const target = this.nodes.get(m.to);
        if (!target) continue;
        try {
          target.node.step(m);
          this.delivered++;
        } catch (e) {
          if ((e as Error).name !== 'ErrStepPeerNotFound') throw e;
        }
      }
      if (!progressed) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Follow the Ready contract for one node; `rd` if the test already took the Ready to inspect it. */
  handleReady(n: TestNode, rd: Ready = n.node.ready()): void {
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      n.confState = rd.snapshot.metadata.confState;
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messages);
    let confApplied = false;
    for (const e of rd.committedEntries) {
      n.applied.push(e);
      if (e.type === EntryType.ConfChange) {
        n.confState = n.node.applyConfChange(decodeConfChange(e.data));
        n.storage.setConfState(n.confState);
        confApplied = true;
      }
    }
    n.node.advance();
    if (confApplied && this.snapshotOnConfApply) {
      const applied = n.node.status().applied;
      if (applied > n.storage.snapshot().metadata.index) n.storage.createSnapshot(applied, n.confState, enc('snap'));
    }
  }

  tick(ids: Iterable<NodeId> = [...this.nodes.keys()], times = 1): void {
    ids = [...ids];
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.get(id).node.tick();
      this.stabilize();
    }
  }

  /** Tick everybody until some node is leader (and the rest stabilized). */
  electSomeone(maxTicks = 500): TestNode {
    for (let t = 0; t < maxTicks; t++) {
      const l = this.leader();
      if (l) return l;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  leader(): TestNode | undefined {
    let best: TestNode | undefined;
    for (const n of this.nodes.values()) {
      if (this.isolated.has(n.id)) continue;
      const st = n.node.status();
      if (st.raftState === StateType.Leader && (!best || st.term > best.node.status().term)) best = n;
    }
    return best;
  }

  /** Make `id` leader by campaigning it directly. */
  campaign(id: NodeId): TestNode {
    this.get(id).node.campaign();
    this.stabilize();
    return this.get(id);
  }

  appliedData(id: NodeId): string[] {
    const dec = new TextDecoder();
    return this.get(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.byteLength > 0)
      .map((e) => dec.decode(e.data));
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const addLearner = (id: NodeId): ConfChange => ({ changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: id }] });
export const addVoter = (id: NodeId): ConfChange => ({ changes: [{ type: ConfChangeType.AddNode, nodeId: id }] });
export const removeNode = (id: NodeId): ConfChange => ({ changes: [{ type: ConfChangeType.RemoveNode, nodeId: id }] });
export { ConfChangeType, StateType };
