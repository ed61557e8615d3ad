// Membership changes (thesis chapter 4), as etcd's confchange.Changer: pure
// functions from (config, progress) to a new (config, progress), never
// mutating their input.
//
// Why both modes: a single voter added or removed at a time ("simple") is
// safe because any two majorities of C and C±1 overlap (thesis §4.1); a
// change of several voters at once must go through the joint configuration
// C_old,new (§4.3), where every decision needs a majority of both halves,
// and is left by a second (possibly automatic) change. As in etcd, a
// configuration takes effect when its entry is *applied* (not appended), and
// the leader only accepts a change once it applied an entry of its own term
// and no other change is pending: that is Ongaro's fix for the single-server
// bug (raft-dev, 2015), since the new leader's no-op commits first.
import { ConfChangeError } from '../errors.js';
import { JointConfig, MajorityConfig } from '../quorum/quorum.js';
import { Progress } from '../tracker/progress.js';
import { cloneTrackerConfig, type ProgressMap, type TrackerConfig } from '../tracker/tracker.js';
import { ConfChangeType, type ConfChange, type ConfChangeSingle, type ConfState, type NodeId } from '../types.js';

export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

export interface ChangerState {
  config: TrackerConfig;
  progress: ProgressMap;
  maxInflight: number;
  maxInflightBytes: number;
  /** New members start probing from here. */
  lastIndex: number;
}

/** Does cc ask to leave a joint configuration? (no changes, auto transition, no context) */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0 && (cc.transition ?? 'auto') === 'auto' && (!cc.context || cc.context.byteLength === 0);
}

/** Does cc enter a joint configuration, and should it be left automatically? */
export function enterJoint(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  const t = cc.transition ?? 'auto';
  if (t !== 'auto' || cc.changes.length > 1) {
    return { joint: true, autoLeave: t === 'auto' || t === 'implicit' };
  }
  return { joint: false, autoLeave: false };
}

function cloneProgress(p: ProgressMap): ProgressMap {
  // Shallow copies (the in-flight window object is shared, as in etcd): a
  // change that throws halfway, or a dry run, leaves the live state untouched.
  const out: ProgressMap = new Map();
  for (const [id, pr] of p) out.set(id, Object.assign(Object.create(Progress.prototype) as Progress, pr));
  return out;
}

export class Changer {
  constructor(private readonly st: ChangerState) {}

  /** Enter C_old,new: the current voters become the outgoing half, ccs are applied to the incoming half. */
  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) throw new ConfChangeError('config is already joint');
    if (config.voters.incoming.size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
    const voters = new JointConfig(new MajorityConfig(config.voters.incoming.ids), new MajorityConfig(config.voters.incoming.ids));
    config.voters = voters;
    this.apply(config, progress, ccs);
    config.autoLeave = autoLeave;
    return this.checkAndReturn(config, progress);
  }

  /** Leave C_old,new for C_new: outgoing voters not in C_new are dropped, learnersNext become learners. */
  leaveJoint(): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (!config.voters.isJoint()) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      progress.get(id)!.isLearner = true;
    }
    config.learnersNext = new Set();
    for (const id of config.voters.outgoing.ids) {
      if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters = new JointConfig(new MajorityConfig(config.voters.incoming.ids), new MajorityConfig());
    config.autoLeave = false;
    return this.checkAndReturn(config, progress);
  }

  /** One change of at most one voter, without a joint config (thesis §4.1). */
  simple(ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) throw new ConfChangeError("can't apply simple config change in joint config");
    const before = new Set(config.voters.incoming.ids);
    this.apply(config, progress, ccs);
    let diff = 0;
    for (const id of before) if (!config.voters.incoming.has(id)) diff++;
    for (const id of config.voters.incoming.ids) if (!before.has(id)) diff++;
    if (diff > 1) throw new ConfChangeError('more than one voter changed without entering joint config');
    return this.checkAndReturn(config, progress);
  }

  private apply(config: TrackerConfig, progress: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId < 0) throw new ConfChangeError(`invalid nodeId ${cc.nodeId}`);
      if (cc.nodeId === 0) continue; // etcd: a zero id is a no-op
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          this.remove(config, progress, cc.nodeId);
          break;
        default:
          throw new ConfChangeError(`unknown conf change type ${String(cc.type)}`);
      }
    }
    if (config.voters.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private incomingIds(config: TrackerConfig): Set<NodeId> {
    return config.voters.incoming.ids as Set<NodeId>;
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (!pr) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    this.incomingIds(config).add(id);
  }

  /**
   * Make id a learner. A voter of the outgoing config cannot become a learner
   * yet (it still votes in C_old): it goes to learnersNext and turns into a
   * learner when the joint config is left.
   */
  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (!pr) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    this.remove(config, progress, id);
    progress.set(id, pr);
    if (config.voters.outgoing.has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  private remove(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    if (!progress.has(id)) return;
    this.incomingIds(config).delete(id);
    config.learners.delete(id);
    config.learnersNext.delete(id);
    // Still a voter of the outgoing config: keep replicating to it until the joint config is left.
    if (!config.voters.outgoing.has(id)) progress.delete(id);
  }

  private initProgress(config: TrackerConfig, progress: ProgressMap, id: NodeId, isLearner: boolean): void {
    if (isLearner) config.learners.add(id);
    else this.incomingIds(config).add(id);
    // Start probing at the leader's last index (the follower rejects and
    // hints where it really is); recentActive so CheckQuorum does not depose
    // the leader before the new member had a chance to answer.
    const pr = new Progress(Math.max(this.st.lastIndex, 1), this.st.maxInflight, this.st.maxInflightBytes, isLearner);
    pr.recentActive = true;
    progress.set(id, pr);
  }

  private checkAndCopy(): ChangeResult {
    const config = cloneTrackerConfig(this.st.config);
    const progress = cloneProgress(this.st.progress);
    checkInvariants(config, progress);
    return { config, progress };
  }

  private checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
    checkInvariants(config, progress);
    return { config, progress };
  }
}

/** The invariants every configuration keeps (etcd's confchange.checkInvariants). */
export function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  for (const ids of [config.voters.ids(), config.learners, config.learnersNext]) {
    for (const id of ids) if (!progress.has(id)) throw new ConfChangeError(`no progress for ${id}`);
  }
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id)) throw new ConfChangeError(`${id} is in learnersNext, but not in the outgoing voters`);
    if (progress.get(id)!.isLearner) throw new ConfChangeError(`${id} is in learnersNext, but is already marked as learner`);
  }
  for (const id of config.learners) {
    if (config.voters.outgoing.has(id)) throw new ConfChangeError(`${id} is in learners and outgoing voters`);
    if (config.voters.incoming.has(id)) throw new ConfChangeError(`${id} is in learners and incoming voters`);
    if (!progress.get(id)!.isLearner) throw new ConfChangeError(`${id} is in learners, but is not marked as learner`);
  }
  if (!config.voters.isJoint()) {
    if (config.learnersNext.size > 0) throw new ConfChangeError('learnersNext must be empty when not joint');
    if (config.autoLeave) throw new ConfChangeError('autoLeave must be false when not joint');
  }
}

/**
 * Rebuild the configuration described by a ConfState (from storage or a
 * snapshot) by replaying it as changes onto an empty config, exactly as
 * etcd's confchange.Restore does, so a restored joint config is the same as
 * one reached by live changes.
 */
export function restoreConfState(st: Omit<ChangerState, 'config' | 'progress'>, cs: ConfState): ChangeResult {
  const outgoing: ConfChangeSingle[] = [];
  const incoming: ConfChangeSingle[] = [];
  for (const id of cs.votersOutgoing) {
    outgoing.push({ type: ConfChangeType.AddNode, nodeId: id });
    // Remove them again in the incoming step; the ones that stay voters are re-added below.
    incoming.push({ type: ConfChangeType.RemoveNode, nodeId: id });
  }
  for (const id of cs.voters) incoming.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.learners) incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  // Voters of outgoing that become learners: in learnersNext after enterJoint.
  for (const id of cs.learnersNext) incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });

  let cur: ChangeResult = { config: { voters: new JointConfig(), learners: new Set(), learnersNext: new Set(), autoLeave: false }, progress: new Map() };
  const step = (f: (c: Changer) => ChangeResult): void => {
    cur = f(new Changer({ ...st, config: cur.config, progress: cur.progress }));
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) step((c) => c.simple([cc]));
  } else {
    for (const cc of outgoing) step((c) => c.simple([cc]));
    step((c) => c.enterJoint(cs.autoLeave, incoming));
  }
  return cur;
}

// ---- wire encoding of a ConfChange (the data of a ConfChange entry) ----
// Layout (big endian): u8 version=1 | u8 transition (0 auto,1 implicit,2 explicit)
// | u32 n | n x (u8 type, f64 nodeId) | u32 contextLen | context bytes.

const TRANSITIONS = ['auto', 'implicit', 'explicit'] as const;
/** Upper bound on changes in one ConfChange (a cluster is never larger). */
export const MAX_CONF_CHANGES = 1024;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const ctx = cc.context ?? new Uint8Array(0);
  const n = cc.changes.length;
  if (n > MAX_CONF_CHANGES) throw new ConfChangeError(`too many changes: ${n} > ${MAX_CONF_CHANGES}`);
  const buf = new Uint8Array(1 + 1 + 4 + n * 9 + 4 + ctx.byteLength);
  const dv = new DataView(buf.buffer);
  let o = 0;
  dv.setUint8(o++, 1);
  const t = TRANSITIONS.indexOf(cc.transition ?? 'auto');
  if (t < 0) throw new ConfChangeError(`invalid transition ${String(cc.transition)}`);
  dv.setUint8(o++, t);
  dv.setUint32(o, n);
  o += 4;
  for (const c of cc.changes) {
    dv.setUint8(o++, c.type);
    dv.setFloat64(o, c.nodeId);
    o += 8;
  }
  dv.setUint32(o, ctx.byteLength);
  o += 4;
  buf.set(ctx, o);
  return buf;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const bad = (why: string): never => {
    throw new ConfChangeError(`cannot decode ConfChange: ${why}`);
  };
  if (data.byteLength < 10) bad(`too short (${data.byteLength} bytes)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const version = dv.getUint8(o++);
  if (version !== 1) bad(`unknown version ${version}`);
  const t = dv.getUint8(o++);
  if (t >= TRANSITIONS.length) bad(`unknown transition ${t}`);
  const n = dv.getUint32(o);
  o += 4;
  if (n > MAX_CONF_CHANGES || data.byteLength < o + n * 9 + 4) bad(`bad change count ${n}`);
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < n; i++) {
    const type = dv.getUint8(o++);
    if (type > 2) bad(`unknown change type ${type}`);
    const nodeId = dv.getFloat64(o);
    o += 8;
    if (!Number.isSafeInteger(nodeId) || nodeId < 0) bad(`invalid node id ${nodeId}`);
    changes.push({ type, nodeId });
  }
  const len = dv.getUint32(o);
  o += 4;
  if (data.byteLength !== o + len) bad('context length mismatch');
  const cc: ConfChange = { changes, transition: TRANSITIONS[t] };
  if (len > 0) cc.context = data.slice(o, o + len);
  return cc;
}
