// Follower behaviour (installed by becomeFollower).
import { restoreConfState } from './confchange/confchange.js';
import { ErrProposalDropped } from './errors.js';
import { switchToConfig } from './membership.js';
import { CampaignType, type Raft } from './raft.js';
import { ProgressTracker } from './tracker/tracker.js';
import { MessageType, NONE, StateType, type Message, type Snapshot } from './types.js';
import { newMessage } from './util.js';

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      // Proposals are not forwarded: the driver answers clients with the leader hint instead.
      throw ErrProposalDropped;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.MsgTransferLeader:
      if (r.lead === NONE) {
        r.log('info', 'no leader; dropping leader transfer request');
        return;
      }
      r.send({ ...m, to: r.lead, term: 0 });
      return;
    case MessageType.MsgTimeoutNow:
      // The leader asks us to campaign now (§3.10); skip pre-vote, votes carry the transfer context.
      r.log('info', 'received MsgTimeoutNow; starting a transfer campaign', { from: m.from });
      r.hup(CampaignType.Transfer);
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === NONE) {
        r.log('info', 'no leader; dropping read index request');
        return;
      }
      r.send({ ...m, to: r.lead, term: 0 });
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) return;
      r.readStates.push({ index: m.index, requestCtx: m.entries[0].data });
      return;
  }
}

// ---- follower handlers (also used by candidates that learn of a leader) ----

export function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.raftLog.committed) {
    // Everything up to our commit is already known to match.
    r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.committed }));
    return;
  }
  if (r.raftLog.lastIndex() === 0 && r.trk.config.voters.incoming.size === 0 && r.trk.config.learners.size === 0) {
    // A joining node without any configuration cannot interpret a log that
    // starts at index 1 (the bootstrap membership is not in the log): ask
    // for a snapshot. Index 0 marks this; a normal follower never rejects prev index 0.
    r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: 0, reject: true, rejectHint: 0 }));
    return;
  }
  const last = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (last !== undefined) {
    r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: last }));
    return;
  }
  // Prev-log check failed (Figure 2, receiver rule 2). Hint the leader at
  // the largest index whose term is <= the leader's prev term, so it can
  // skip a whole conflicting term per round trip.
  const hintIndex = Math.min(m.index, r.raftLog.lastIndex());
  const hint = r.raftLog.findConflictByTerm(hintIndex, m.logTerm);
  r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }));
}

export function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  // `index` echoes the leader's lease stamp (lease.ts); 0 when it sent none.
  r.send(newMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context, index: m.index }));
}

export function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (!s) return;
  if (restore(r, s)) {
    r.log('info', 'restored snapshot', { index: s.metadata.index, snapTerm: s.metadata.term });
    r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.lastIndex() }));
  } else {
    r.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: r.raftLog.committed }));
  }
}

/** Install a snapshot (thesis §5.1) unless we already have what it covers. */
export function restore(r: Raft, s: Snapshot): boolean {
  if (s.metadata.index <= r.raftLog.committed) return false;
  if (r.state !== StateType.Follower) {
    // Defensive (etcd): only a follower of the sender's term gets here.
    r.log('warn', 'attempted to restore snapshot as non-follower; should never happen');
    r.becomeFollower(r.term + 1, NONE);
    return false;
  }
  const cs = s.metadata.confState;
  const members = [...cs.voters, ...cs.learners, ...cs.votersOutgoing];
  if (!members.includes(r.id)) {
    // A snapshot from before we were added: wait for a newer one.
    r.log('warn', 'attempted to restore snapshot but it is not in the ConfState; should never happen', { index: s.metadata.index });
    return false;
  }
  if (r.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
    // We already have the entries: just fast-forward commit.
    r.raftLog.commitTo(s.metadata.index);
    return false;
  }
  r.raftLog.restore(s);
  r.trk = new ProgressTracker(r.cfg.maxInflightMsgs, r.cfg.maxInflightBytes);
  switchToConfig(r, restoreConfState(r.changerBase(), cs));
  const pr = r.trk.progress.get(r.id)!;
  pr.maybeUpdate(pr.next - 1);
  return true;
}
