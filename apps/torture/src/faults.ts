// The fault vocabulary scenarios are written in: partitions through the
// proxies, pauses (SIGSTOP longer than an election timeout), crashes
// (SIGKILL) and restarts, membership changes through the admin API, disk
// faults on a node's data dir. Each action logs one line of the schedule; an
// action that finds something wrong (a node serving from a corrupt file, a
// node that does not recover) records an anomaly.
import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MemberInfo } from '@flagraft/cluster-client';
import type { TortureCluster } from './cluster.js';
import type { Rng } from './rng.js';

export interface FaultContext {
  c: TortureCluster;
  rng: Rng;
  electionMs: number;
  /** Appends a line to the printed schedule (with the time since the start). */
  log(line: string): void;
  /** Something the harness saw that is wrong besides the history (liveness, corruption handling). */
  anomaly(line: string): void;
  /** True once the scenario's time is up. */
  done(): boolean;
  /** Node ids the scenario may add (membership changes), in order. */
  spareIds: number[];
  /** Voters at the start: ids 1..size, the nodes every client is configured with. */
  size: number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until fn() is truthy or the time runs out; returns the last value (undefined = timed out). */
export async function waitUntil<T>(timeoutMs: number, fn: () => Promise<T | undefined | false> | T | undefined | false, everyMs = 100, onError?: (e: Error) => void): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { onError?.(e as Error); /* not yet */ }
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** Voter ids as the leader sees them (falls back to the running nodes). */
export async function voters(c: TortureCluster): Promise<number[]> {
  const m = await c.members();
  return m ? m.filter((x) => x.role === 'voter').map((x) => x.id) : c.live().map((n) => n.id);
}

export async function hold(x: FaultContext, lo: number, hi: number): Promise<void> {
  await sleep(x.rng.int(lo, hi));
}

export async function isolateLeader(x: FaultContext): Promise<void> {
  const l = await x.c.leaderId(3000);
  if (!l) return x.log('isolate-leader: no leader to isolate');
  const others = x.c.local.nodes.map((n) => n.id).filter((id) => id !== l);
  x.c.mesh.partition([[l], others]);
  x.log(`isolate leader ${l} from ${others.join(',')}`);
}

export async function majorityMinority(x: FaultContext): Promise<void> {
  const ids = x.rng.shuffle(x.c.local.nodes.map((n) => n.id));
  const k = Math.floor(ids.length / 2);
  const minority = ids.slice(0, k);
  const majority = ids.slice(k);
  x.c.mesh.partition([minority, majority]);
  x.log(`partition minority [${minority.join(',')}] | majority [${majority.join(',')}]`);
}

/** Two sides that each see the bridge node but not each other (nontransitive). */
export async function bridge(x: FaultContext): Promise<void> {
  const ids = x.rng.shuffle(x.c.local.nodes.filter((n) => n.pid).map((n) => n.id));
  const mid = ids[0];
  const half = Math.ceil((ids.length - 1) / 2);
  const a = ids.slice(1, 1 + half);
  const b = ids.slice(1 + half);
  x.c.mesh.heal();
  for (const i of a) for (const j of b) {
    x.c.mesh.link(i, j).set({ blocked: true });
    x.c.mesh.link(j, i).set({ blocked: true });
  }
  x.log(`bridge: [${a.join(',')}] <-> ${mid} <-> [${b.join(',')}]`);
}

/** The leader's outgoing links cut, its incoming ones kept (it hears others, nobody hears it). */
export async function oneWayLeader(x: FaultContext): Promise<void> {
  const l = await x.c.leaderId(3000);
  if (!l) return x.log('one-way: no leader');
  for (const n of x.c.local.nodes) if (n.id !== l) x.c.mesh.link(l, n.id).set({ blocked: true });
  x.log(`one-way: leader ${l} cannot send`);
}

export async function slowLinks(x: FaultContext): Promise<void> {
  const delayMs = x.rng.int(5, Math.floor(x.electionMs / 3));
  const jitterMs = x.rng.int(0, Math.floor(x.electionMs / 2));
  const dropProbability = x.rng.next() < 0.3 ? 0.002 : 0;
  x.c.mesh.setAll({ delayMs, jitterMs, dropProbability });
  x.log(`slow links: ${delayMs} ms + [0,${jitterMs}) ms jitter${dropProbability ? `, drop ${dropProbability}` : ''}`);
}

export function heal(x: FaultContext, what = 'heal'): void {
  x.c.heal();
  x.log(what);
}

export async function pauseLeader(x: FaultContext): Promise<void> {
  const l = await x.c.leaderId(3000);
  if (!l) return x.log('pause: no leader');
  x.c.pause(l);
  const ms = x.rng.int(2 * x.electionMs, 5 * x.electionMs);
  x.log(`SIGSTOP leader ${l} for ${ms} ms`);
  await sleep(ms);
  x.c.resume(l);
  x.log(`SIGCONT ${l}`);
}

/**
 * SIGKILL all nodes (30%: what loses writes acknowledged before they were on
 * disk, so it must come often), a majority (20%), the leader (20%) or one
 * node (30%); restarted after a pause.
 */
export async function killSome(x: FaultContext): Promise<void> {
  const live = x.c.live().map((n) => n.id);
  if (!live.length) return;
  const roll = x.rng.next();
  let victims: number[];
  if (roll < 0.3) victims = live;
  else if (roll < 0.5) victims = x.rng.shuffle(live).slice(0, Math.ceil(live.length / 2));
  else if (roll < 0.7) victims = [(await x.c.leaderId(2000)) ?? x.rng.pick(live)];
  else victims = [x.rng.pick(live)];
  await Promise.all(victims.map((id) => x.c.node(id).kill('SIGKILL')));
  const down = x.rng.int(0, 3 * x.electionMs);
  x.log(`SIGKILL ${victims.join(',')}; restart after ${down} ms`);
  await sleep(down);
  await Promise.all(victims.map((id) => x.c.node(id).restart({ wait: false })));
}

/** Restarts every stopped member (a supervisor's job), without waiting for it to serve. */
export async function restartDead(x: FaultContext, members: number[]): Promise<void> {
  const dead = x.c.local.nodes.filter((n) => !n.pid && members.includes(n.id));
  if (!dead.length) return;
  await Promise.all(dead.map((n) => n.restart({ wait: false })));
  x.log(`restart ${dead.map((n) => n.id).join(',')}`);
}

/** SIGTERM each node in turn (graceful: a leader hands over), start it again and wait until it serves. */
export async function rollingRestart(x: FaultContext): Promise<void> {
  for (const n of x.c.local.nodes.filter((m) => m.pid)) {
    if (x.done()) return;
    await n.kill('SIGTERM');
    x.log(`rolling: SIGTERM ${n.id}`);
    await n.restart({ wait: false });
    const ok = await waitUntil(20_000, () => x.c.leaderId(1000));
    x.log(`rolling: ${n.id} restarted${ok ? '' : ' (no leader within 20 s)'}`);
    if (!ok) x.anomaly(`rolling restart: no leader within 20 s after restarting node ${n.id}`);
    await hold(x, 200, 800);
  }
}

/**
 * Why an operator would not remove voter `old` now (undefined: fine). Raft
 * itself accepts each of these and the history stays correct, but the
 * cluster is then unavailable for reasons of the schedule, not of the code
 * (membership-churn seeds 4001 and 4100, docs/torture-campaign.md):
 *  - fewer voters than the scenario started with: an earlier add failed, and
 *    removing more shrinks the cluster towards one that cannot keep a quorum;
 *  - the voters left would have no reachable majority (a partition or a kill
 *    is going on): the removal commits, then nothing can until the fault ends.
 *    Two views, both must allow it: the leader's (Status `reachable`), and
 *    the harness's own faults (a majority of the remaining voters running,
 *    not paused and connected to each other). The leader's view lags a fresh
 *    partition: a blocked link holds new connections silent, so for a while
 *    the peer still counts as reachable (seed 4301 rerun: voters {1,2,4},
 *    partition [2,4] | [1,3], the leader 2 removed itself 0.6 s later, and
 *    1 and 4, cut off from each other, had no leader for 20 s);
 *  - no voter the clients are configured with would remain: the clients only
 *    find a leader through a member's NOT_LEADER hint, and a removed node
 *    knows no leader (an operator adds new nodes to the clients' endpoints
 *    before replacing the last old one; the gateways here keep theirs).
 */
function removalRefusal(x: FaultContext, members: MemberInfo[], old: number): string | undefined {
  const vs = members.filter((m) => m.role === 'voter');
  if (vs.length < x.size) return `${vs.length} voters of ${x.size}`;
  const rest = vs.filter((m) => m.id !== old);
  const reachable = rest.filter((m) => m.reachable).length;
  if (reachable <= rest.length / 2) return `only ${reachable} of the remaining voters ${rest.map((m) => m.id).join(',')} reachable`;
  if (!connectedMajority(x.c, rest.map((m) => m.id))) return `the harness's faults leave no connected majority of the remaining voters ${rest.map((m) => m.id).join(',')}`;
  if (!rest.some((m) => m.id <= x.size)) return 'no voter the clients know would remain';
  return undefined;
}

/**
 * Whether more than half of `ids` are running, not paused, and pairwise
 * connected through the mesh (so they can elect a leader among themselves).
 * Few ids (at most 4 voters remain here): every subset is tried.
 */
export function connectedMajority(c: TortureCluster, ids: number[]): boolean {
  const up = ids.filter((id) => c.node(id).pid && !c.paused.has(id));
  const need = Math.floor(ids.length / 2) + 1;
  for (let mask = 0; mask < 1 << up.length; mask++) {
    const group = up.filter((_, i) => mask & (1 << i));
    if (group.length < need) continue;
    if (group.every((a, i) => group.slice(i + 1).every((b) => c.mesh.connected(a, b)))) return true;
  }
  return false;
}

/**
 * Replaces a voter (the leader half the time) with a new node: remove it
 * (it keeps running for a while, a removed server that may campaign), start
 * a joiner, add it as a learner, promote it once caught up, stop the old one.
 * Only removals an operator would make (removalRefusal); with fewer voters
 * than at the start (an add failed) it only adds a node back.
 */
export async function replaceVoter(x: FaultContext): Promise<void> {
  const newId = x.spareIds.shift();
  if (newId === undefined) return x.log('membership: no spare ids left');
  let members: MemberInfo[];
  try {
    members = (await x.c.admin.status()).members;
  } catch (e) {
    x.log(`membership: no status: ${(e as Error).message.slice(0, 80)}`);
    x.spareIds.unshift(newId);
    return;
  }
  const vs = members.filter((m) => m.role === 'voter').map((m) => m.id);
  let old: number | undefined;
  if (vs.length >= x.size) {
    const l = await x.c.leaderId(3000);
    const pick = x.rng.next() < 0.5 && l ? l : x.rng.pick(vs);
    const refusal = removalRefusal(x, members, pick);
    if (refusal) {
      x.log(`membership: not removing ${pick}: ${refusal}`);
      x.spareIds.unshift(newId);
      return;
    }
    try {
      await x.c.admin.removeMember(pick);
      x.log(`membership: removed ${pick}${pick === l ? ' (the leader)' : ''}`);
      old = pick;
    } catch (e) {
      x.log(`membership: remove ${pick} failed: ${(e as Error).message.slice(0, 80)}`);
      x.spareIds.unshift(newId);
      return;
    }
  } else {
    x.log(`membership: ${vs.length} voters of ${x.size}: adding one back`);
  }
  const n = await x.c.spawnJoiner(newId);
  let why = '';
  const added = await waitUntil(15_000, async () => (await x.c.admin.addLearner(newId, n.peerAddress)).some((m) => m.id === newId), 300, (e) => { why = e.message; });
  x.log(`membership: add learner ${newId}${added ? '' : ` failed${why ? ` (last error: ${why.slice(0, 160)})` : ''}`}`);
  if (!added) return;
  const promoted = await waitUntil(30_000, async () => (await x.c.admin.promoteLearner(newId)).find((m) => m.id === newId)?.role === 'voter', 300, (e) => { why = e.message; });
  x.log(`membership: promote ${newId}${promoted ? '' : ` not done within 30 s${why ? ` (last error: ${why.slice(0, 160)})` : ''}`}`);
  if (old === undefined) return;
  await hold(x, 200, 1000);
  await x.c.node(old).kill('SIGTERM');
  x.log(`membership: stopped removed node ${old}`);
}

/** Fills the data dir's filesystem (a tmpfs) until ENOSPC; returns the filler path. */
export function fillDisk(dir: string): string {
  const filler = join(dir, 'filler.bin');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** How a stopped node's file was damaged; `mustRefuse`: a node that starts on it is an anomaly. */
export interface Damage { what: string; mustRefuse: boolean }

/**
 * Damages a stopped node's file, one of three ways: truncated to half; one
 * byte flipped inside a live stored value (a flag's JSON in flagraft.db, an
 * entry in raft-log.db: found through SQLite's dbstat pages); or 64 bytes flipped at
 * random past the header (they may all land in free space, so the node may
 * start: the history then shows it served nothing wrong).
 */
export function corruptFile(path: string, rng: Rng): Damage {
  foldWal(path);
  const size = statSync(path).size;
  const roll = rng.next();
  if (roll < 1 / 3) {
    truncateSync(path, Math.floor(size / 2));
    return { what: `truncated ${path} from ${size} to ${Math.floor(size / 2)} bytes`, mustRefuse: true };
  }
  if (roll < 2 / 3) {
    const flipped = flipInsideValue(path, rng);
    if (flipped) return { what: flipped, mustRefuse: true };
  }
  const buf = readFileSync(path);
  // Past the first page (the header, which SQLite refuses outright): the B-tree pages.
  for (let i = 0; i < 64; i++) buf[rng.int(Math.min(4096, size - 1), size - 1)] ^= 0xff;
  writeWhole(path, buf);
  return { what: `flipped 64 random bytes of ${path} (${size} bytes)`, mustRefuse: false };
}

/**
 * Folds the WAL of a killed node into the file (what its next open would do):
 * otherwise the newest copy of every page may be in the -wal file and damage
 * to the file itself would be harmless.
 */
function foldWal(path: string): void {
  const db = new Database(path);
  try { db.pragma('wal_checkpoint(TRUNCATE)'); } finally { db.close(); }
}

function writeWhole(path: string, buf: Buffer): void {
  const fd = openSync(path, 'r+');
  try { writeSync(fd, buf, 0, buf.length, 0); } finally { closeSync(fd); }
}

/**
 * Flips one byte in the middle of a live row's value; undefined when no such
 * row is found on its pages. The row's bytes may also sit in dead space (a
 * cell freed by a delete, a compaction or a page split keeps its old bytes),
 * and damage there is harmless — the node is right to start. So each copy is
 * tried in turn and kept only when reading the row back shows the stored value
 * changed (campaign finding 7: the first copy was dead space, the harness
 * claimed a damaged live entry and flagged a node that had nothing to refuse).
 */
function flipInsideValue(path: string, rng: Rng): string | undefined {
  const isLog = path.endsWith('raft-log.db');
  const db = new Database(path);
  let value: Buffer | undefined;
  let key: unknown;
  let pages: number[] = [];
  let what = '';
  try {
    const rows = (isLog ? db.prepare('SELECT idx AS k, data AS v FROM log WHERE length(data) > 8') : db.prepare('SELECT key AS k, json AS v FROM flags')).all() as { k: unknown; v: Buffer | string }[];
    if (!rows.length) return undefined;
    const row = rng.pick(rows);
    value = Buffer.from(row.v);
    key = row.k;
    what = isLog ? `log entry ${String(row.k)}` : `flag ${String(row.k)}`;
    pages = (db.prepare('SELECT pageno FROM dbstat WHERE name = ?').pluck().all(isLog ? 'log' : 'flags') as number[]);
  } finally {
    db.close();
  }
  const buf = readFileSync(path);
  const pageSize = buf.readUInt16BE(16) === 1 ? 65536 : buf.readUInt16BE(16);
  for (const p of pages) {
    const page = buf.subarray((p - 1) * pageSize, p * pageSize);
    for (let at = page.indexOf(value); at >= 0; at = page.indexOf(value, at + 1)) {
      const byte = (p - 1) * pageSize + at + Math.floor(value.length / 2);
      buf[byte] ^= 0x01;
      writeWhole(path, buf);
      if (liveValueChanged(path, isLog, key, value)) return `flipped one byte inside ${what} (page ${p}, offset ${byte}) of ${path}`;
      buf[byte] ^= 0x01; // dead space: undo and try the next copy
      writeWhole(path, buf);
    }
  }
  return undefined;
}

/** True when the row's stored value is no longer `before` (or SQLite can no longer read it: damage it will notice too). */
function liveValueChanged(path: string, isLog: boolean, key: unknown, before: Buffer): boolean {
  const db = new Database(path);
  try {
    const r = db.prepare(isLog ? 'SELECT data AS v FROM log WHERE idx = ?' : 'SELECT json AS v FROM flags WHERE key = ?').get(key) as { v: Buffer | string } | undefined;
    return !r || !Buffer.from(r.v).equals(before);
  } catch {
    return true;
  } finally {
    db.close();
  }
}
