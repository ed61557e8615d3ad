// An in-process 3-node cluster: elect a leader, propose a few entries and
// print what each node applied. `node packages/raft-core/dist/demo.js`.
// Messages travel through an in-memory queue; each node follows the Ready
// contract (persist -> send -> apply -> advance) against a MemoryStorage.
import { MemoryStorage } from './storage.js';
import { RawNode } from './raw-node.js';
import { createRng } from './rng.js';
import { EntryType, StateType, type Message, type NodeId } from './types.js';

interface DemoNode {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  applied: string[];
}

const log = (msg: string, fields: Record<string, unknown> = {}): void => {
  console.log(JSON.stringify({ app: 'raft-core-demo', msg, ...fields }));
};

/** Ticks allowed for the election before the demo gives up. */
const MAX_ELECTION_TICKS = 1000;

export function runDemo(seed = 1, proposals = ['flag:new-checkout=on', 'flag:dark-mode=off', 'flag:beta-banner=on']): DemoNode[] {
  const ids = [1, 2, 3];
  const dec = new TextDecoder();
  const nodes = new Map<NodeId, DemoNode>();
  for (const id of ids) {
    const storage = new MemoryStorage({ voters: ids });
    const node = new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, rng: createRng(seed * 100 + id) });
    nodes.set(id, { id, node, storage, applied: [] });
  }
  const inbox: Message[] = [];
  const drain = (): void => {
    for (let rounds = 0; rounds < 1000; rounds++) {
      let any = false;
      for (const n of nodes.values()) {
        if (!n.node.hasReady()) continue;
        any = true;
        const rd = n.node.ready();
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        inbox.push(...rd.messages);
        if (rd.softState) log('state', { node: n.id, state: rd.softState.raftState, lead: rd.softState.lead });
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.Normal && e.data.byteLength > 0) n.applied.push(`${e.index}:${dec.decode(e.data)}`);
        }
        n.node.advance();
      }
      while (inbox.length > 0) {
        const m = inbox.shift()!;
        nodes.get(m.to)?.node.step(m);
        any = true;
      }
      if (!any) return;
    }
  };
  let leader: DemoNode | undefined;
  for (let t = 0; t < MAX_ELECTION_TICKS && !leader; t++) {
    for (const n of nodes.values()) n.node.tick();
    drain();
    leader = [...nodes.values()].find((n) => n.node.status().raftState === StateType.Leader);
  }
  if (!leader) throw new Error(`no leader elected within ${MAX_ELECTION_TICKS} ticks`);
  log('leader elected', { leader: leader.id, term: leader.node.status().term });
  const enc = new TextEncoder();
  for (const p of proposals) {
    const index = leader.node.propose(enc.encode(p));
    log('proposed', { data: p, index });
  }
  drain();
  // One more heartbeat round so followers learn the final commit index.
  for (let t = 0; t < 3; t++) {
    for (const n of nodes.values()) n.node.tick();
    drain();
  }
  for (const n of nodes.values()) log('applied', { node: n.id, entries: n.applied, commit: n.node.status().commit });
  return [...nodes.values()];
}

// Run when executed directly (node dist/demo.js), not when imported by tests.
const argv1 = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1] ?? '';
if (argv1.endsWith('demo.js') || argv1.endsWith('demo.ts')) {
  const nodes = runDemo();
  const first = JSON.stringify(nodes[0].applied);
  const agree = nodes.every((n) => JSON.stringify(n.applied) === first) && nodes[0].applied.length === 3;
  log(agree ? 'all nodes applied the same entries' : 'nodes DISAGREE', { ok: agree });
  if (!agree) throw new Error('demo failed: nodes disagree');
}
