// Three classic Raft bugs, injected in TEST CODE ONLY by patching methods of
// one RawNode instance (the production core has no switch for them). The
// simulator must catch each (see bugs.test.ts): a checker that cannot fail
// is a defect.
import { RawNode, StateType, type Config } from '../../src/index.js';

export type BugName = 'commit-old-term' | 'forget-vote' | 'no-prev-log-check' | 'stale-leader-read';

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
 * Bugs of the application around the core (the simulator plays it), not of
 * Raft: ack-put-on-propose answers a put when the leader accepted the
 * proposal instead of when the entry applied. Raft stays safe (the older
 * checks see nothing); only the clients' history shows the lost writes.
 */
export const CLIENT_BUGS = ['ack-put-on-propose'] as const;

export const BUGS: Record<BugName, (cfg: Config) => RawNode> = {
  'commit-old-term': commitOldTerm,
  'forget-vote': forgetVote,
  'no-prev-log-check': noPrevLogCheck,
  'stale-leader-read': staleLeaderRead,
};
