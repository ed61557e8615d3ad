// Raft bugs injected in TEST CODE ONLY by patching methods of one RawNode
// instance (the production core has no switch for them): four classic ones
// (commit-old-term, forget-vote, no-prev-log-check, stale-leader-read), three
// of membership safety (MEMBERSHIP_BUGS), one of durability (no-sync-vote),
// and two of the application around the core (CLIENT_BUGS). The simulator
// must catch each (see bugs.test.ts): a checker that cannot fail is a defect.
import { RawNode, StateType, type Config } from '../../src/index.js';
import { CampaignType } from '../../src/raft.js';

export type BugName =
  | 'commit-old-term'
  | 'forget-vote'
  | 'no-prev-log-check'
  | 'stale-leader-read'
  | 'conf-before-noop'
  | 'campaign-unapplied-conf'
  | 'no-conf-pending-limit'
  | 'no-sync-vote';

/**
 * Figure 8: the leader commits an entry of an earlier term as soon as a
 * majority holds it (counting replicas), instead of only entries of its own term.
 */
function commitOldTerm(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  r.maybeCommit = function (): boolean {
    const mci = this.trk.committed();
    const log = this.raftLog;
    if (mci > log.committed && log.maybeTerm(mci) !== undefined) {
      log.commitTo(mci);
      return true;
    }
    return false;
  };
  return n;
}

/**
 * The vote is granted in memory but not persisted before the grant is sent:
 * the hard state reports no vote while we are a follower, so a crash-restart
 * forgets it and the node can vote twice in one term.
 */
function forgetVote(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  const orig = r.hardState.bind(r);
  r.hardState = () => {
    const hs = orig();
    if (r.state === StateType.Follower && hs.vote !== r.id) hs.vote = 0;
    return hs;
  };
  return n;
}

/**
 * A follower accepts AppendEntries without the prev-log check: it appends
 * the entries whatever its entry at prevIndex is (Figure 2 receiver rule 2 skipped).
 */
function noPrevLogCheck(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const log = n.raft.raftLog;
  const orig = log.maybeAppend.bind(log);
  log.maybeAppend = (index, logTerm, committed, ents) => {
    if (!log.matchTerm(index, logTerm) && index <= log.lastIndex() && index >= log.committed) {
      // Pretend it matched: overwrite from index+1 on.
      if (ents.length > 0 && ents[0].index > log.committed) log.append(ents);
      const lastNew = index + ents.length;
      log.commitTo(Math.min(committed, lastNew, log.lastIndex()));
      return lastNew;
    }
    return orig(index, logTerm, committed, ents);
  };
  return n;
}

/**
 * A leader answers ReadIndex at once with its own commit index, skipping the
 * heartbeat round that proves it still leads (a "lease" read without a
 * lease). A deposed leader cut off from the majority keeps serving old values.
 */
function staleLeaderRead(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  const orig = n.readIndex.bind(n);
  n.readIndex = (ctx: Uint8Array): void => {
    if (r.state !== StateType.Leader) return orig(ctx);
    r.readStates.push({ index: r.raftLog.committed, requestCtx: ctx });
  };
  return n;
}

/**
 * Membership bug 1: a new leader accepts conf changes at once, before the
 * no-op of its term is applied (Ongaro's fix removed). A conf change the
 * previous leader left uncommitted in the log then commits together with the
 * new one: two changes pending at once.
 */
function confBeforeNoop(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  const orig = r.becomeLeader.bind(r);
  r.becomeLeader = (): void => {
    orig();
    r.pendingConfIndex = 0;
  };
  return n;
}

/**
 * Membership bug 2: the guard in hup() is gone, so a node campaigns while its
 * log holds committed conf changes it has not applied yet (it counts votes
 * with a configuration the cluster already left).
 */
function campaignUnappliedConf(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  r.hup = (t: CampaignType): void => {
    if (r.state === StateType.Leader || !r.promotable()) return;
    r.campaign(t);
  };
  return n;
}

/**
 * Membership bug 3: no "one change pending" rule. The leader still waits for
 * the no-op of its term, but then accepts a conf change while the previous one
 * is not applied yet; each is validated against a configuration the other
 * one is about to change.
 */
function noConfPendingLimit(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const r = n.raft;
  const orig = n.proposeConfChange.bind(n);
  n.proposeConfChange = (cc) => {
    const saved = r.pendingConfIndex;
    const applied = r.raftLog.applied;
    // Only lift the limit once an entry of this term is applied (keep Ongaro's fix).
    if (saved > applied && r.raftLog.termOrZero(applied) === r.term) r.pendingConfIndex = applied;
    try {
      return orig(cc);
    } catch (e) {
      r.pendingConfIndex = saved;
      throw e;
    }
  };
  return n;
}

/**
 * Ready.mustSync ignores term and vote changes (only entries and snapshots
 * ask for an fsync): a vote is written but may not be on disk when the grant
 * leaves. A process crash keeps it (the OS has it); a power loss does not.
 * Only the storage double that loses unsynced writes (durable-storage.ts) can see this.
 */
function noSyncVote(cfg: Config): RawNode {
  const n = new RawNode(cfg);
  const orig = n.ready.bind(n);
  n.ready = () => {
    const rd = orig();
    rd.mustSync = rd.entries.length > 0 || rd.snapshot !== undefined;
    return rd;
  };
  return n;
}

/**
 * Bugs of the application around the core (the simulator plays it), not of
 * Raft: ack-put-on-propose answers a put when the leader accepted the
 * proposal instead of when the entry applied; cas-ignores-revision applies a
 * compare-and-set without comparing (every replica alike, so it is
 * deterministic and Raft stays safe). The older checks see nothing; only the
 * clients' history shows the lost writes and lost updates.
 */
export const CLIENT_BUGS = ['ack-put-on-propose', 'cas-ignores-revision'] as const;

export const BUGS: Record<BugName, (cfg: Config) => RawNode> = {
  'commit-old-term': commitOldTerm,
  'forget-vote': forgetVote,
  'no-prev-log-check': noPrevLogCheck,
  'stale-leader-read': staleLeaderRead,
  'conf-before-noop': confBeforeNoop,
  'campaign-unapplied-conf': campaignUnappliedConf,
  'no-conf-pending-limit': noConfPendingLimit,
  'no-sync-vote': noSyncVote,
};

/** The membership-safety bugs (issue 13 part 4), for the tests that hunt them. */
export const MEMBERSHIP_BUGS: BugName[] = ['conf-before-noop', 'campaign-unapplied-conf', 'no-conf-pending-limit'];
