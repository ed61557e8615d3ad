// Micro-benchmark: committed entries per second through a 3-voter
// in-memory cluster, driven as fast as possible with batching and
// pipelining. `pnpm --filter @flagraft/raft-core bench [-- --seconds N --batch N --payload BYTES]`.
// Every node follows the Ready contract against a MemoryStorage; messages
// are delivered in-process. Prints one JSON line with the figures.
import { EntryType, MemoryStorage, RawNode, StateType, createRng, type Message, type NodeId } from '../src/index.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got ${process.argv[i + 1]}`);
  return v;
}

const SECONDS = arg('seconds', 5);
/** Proposals per round (one round = propose, then one pass of Ready handling and delivery). */
const BATCH = arg('batch', 2000);
const PAYLOAD_BYTES = arg('payload', 64);

interface BenchNode {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

const ids = [1, 2, 3];
const nodes = new Map<NodeId, BenchNode>();
for (const id of ids) {
  const storage = new MemoryStorage({ voters: ids });
  const node = new RawNode({
    id,
    storage,
    electionTick: 10,
    heartbeatTick: 1,
    rng: createRng(id),
    maxEntriesPerMsg: 4096,
    maxSizePerMsg: 4 << 20,
    maxInflightMsgs: 256,
    maxUncommittedEntriesSize: 0,
    maxCommittedSizePerReady: 64 << 20,
  });
  nodes.set(id, { id, node, storage, applied: 0 });
}

let queue: Message[] = [];
function pass(): void {
  for (const n of nodes.values()) {
    if (!n.node.hasReady()) continue;
    const rd = n.node.ready();
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) queue.push(m);
    for (const e of rd.committedEntries) if (e.type === EntryType.Normal && e.data.byteLength > 0) n.applied++;
    n.node.advance();
  }
  const q = queue;
  queue = [];
  for (const m of q) nodes.get(m.to)!.node.step(m);
}

const leader = nodes.get(1)!;
leader.node.campaign();
for (let i = 0; i < 20 && leader.node.status().raftState !== StateType.Leader; i++) pass();
if (leader.node.status().raftState !== StateType.Leader) throw new Error('node 1 did not become leader');
for (let i = 0; i < 5; i++) pass();

const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
let proposed = 0;
let rounds = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const deadline = t0 + SECONDS * 1000;
let compactAt = 200_000;
while (performance.now() < deadline) {
  for (let i = 0; i < BATCH; i++) leader.node.propose(payload);
  proposed += BATCH;
  pass();
  rounds++;
  // Keep memory bounded like a real node would: snapshot + compact every so often.
  if (leader.applied > compactAt) {
    compactAt += 200_000;
    for (const n of nodes.values()) {
      const st = n.node.status();
      const cs = st.confState;
      const at = Math.min(st.applied, n.storage.lastIndex()) - 1000;
      if (at > n.storage.snapshot().metadata.index) {
        n.storage.createSnapshot(at, cs, new Uint8Array());
        n.storage.compact(at);
      }
    }
  }
}
// Drain what is in flight so every proposal is counted only once committed.
for (let i = 0; i < 100 && queue.length + (leader.node.hasReady() ? 1 : 0) > 0; i++) pass();
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
// On a shared machine wall-clock throughput depends on the load; per CPU-second it does not (much).
const cpuSecs = (cpu.user + cpu.system) / 1e6;
const committed = leader.applied;
const followersApplied = [nodes.get(2)!.applied, nodes.get(3)!.applied];
console.log(
  JSON.stringify({
    bench: 'raft-core throughput, 3 voters in memory',
    seconds: Number(secs.toFixed(2)),
    batch: BATCH,
    payloadBytes: PAYLOAD_BYTES,
    proposed,
    committedOnLeader: committed,
    appliedOnFollowers: followersApplied,
    rounds,
    committedEntriesPerSecond: Math.round(committed / secs),
    cpuSeconds: Number(cpuSecs.toFixed(2)),
    committedEntriesPerCpuSecond: Math.round(committed / cpuSecs),
  }),
);
if (committed < proposed * 0.99) throw new Error(`only ${committed} of ${proposed} proposals committed`);
