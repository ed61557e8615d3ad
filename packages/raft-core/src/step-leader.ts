// Leader behaviour (installed by becomeLeader).
import { ConfChangeError, ErrProposalDropped } from './errors.js';
import type { Raft } from './raft.js';
import { VoteResult } from './quorum/quorum.js';
import { MAX_PENDING_READ_INDEX, releasePendingReadIndexMessages, responseToReadIndexReq, sendMsgReadIndexResponse } from './read-only.js';
import { checkConfChangeProposal } from './membership.js';
import { ProgressState } from './tracker/progress.js';
import { EntryType, MessageType, NONE, type Message } from './types.js';
import { decodeConfChange } from './confchange/confchange.js';

export function stepLeader(r: Raft, m: Message): void {
  // Messages that need no progress of the sender.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      // CheckQuorum (§6.2): a leader that did not hear from a quorum within an
      // election timeout steps down, so clients go looking for the real leader.
      if (!r.trk.quorumActive()) {
        r.log('warn', 'stepped down to follower since quorum is not active');
        r.becomeFollower(r.term, NONE);
      }
      r.trk.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return;
    case MessageType.MsgProp:
      stepProposal(r, m);
      return;
    case MessageType.MsgReadIndex:
      stepReadIndex(r, m);
      return;
  }

  const pr = r.trk.progress.get(m.from);
  if (!pr) return;
  switch (m.type) {
    case MessageType.MsgAppResp: {
      pr.recentActive = true;
      if (m.reject) {
        if (m.index === 0) {
          // A joining node with no configuration asks for a snapshot.
          r.maybeSendSnapshot(m.from, pr);
          return;
        }
        // Fast back-off: jump to the follower's hint; if it names a term,
        // jump further to the last entry of ours with term <= that term.
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          r.sendAppend(m.from);
        }
        return;
      }
      if (m.index > r.raftLog.lastIndex()) {
        // Acknowledges entries we never had: a stale incarnation or a corrupt peer. Never trust it.
        r.log('warn', 'ignored MsgAppResp beyond our last index', { from: m.from, index: m.index, lastIndex: r.raftLog.lastIndex() });
        return;
      }
      const oldPaused = pr.isPaused();
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.raftLog.firstIndex()) {
          // The follower caught up past the snapshot (it restored it, or got
          // there by appends): back to streaming.
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index);
        }
        if (r.maybeCommit()) {
          releasePendingReadIndexMessages(r);
          r.needBcast = true;
        } else if (oldPaused) {
          // The window was full and just opened: resume.
          r.sendAppend(m.from);
        }
        while (r.maybeSendAppend(m.from, false));
        if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
          r.log('info', 'sent MsgTimeoutNow after the transferee caught up', { to: m.from });
          r.sendTimeoutNow(m.from);
        }
      }
      return;
    }
    case MessageType.MsgHeartbeatResp: {
      pr.recentActive = true;
      if (m.index > 0 && !pr.isLearner) r.lease.ack(m.from, m.index);
      pr.probeSent = false;
      if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.Probe) {
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) {
          // The window is full and nothing was acknowledged since: an append
          // may have been lost. An empty append at next-1 (outside the window)
          // either gets acked (freeing the window) or rejected (back to probing).
          r.sendEmptyAppend(m.from);
        } else {
          r.sendAppend(m.from);
        }
      }
      if (!m.context || m.context.byteLength === 0) return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (!acks || r.trk.config.voters.voteResult(acks) !== VoteResult.Won) return;
      for (const rs of r.readOnly.advance(m.context)) {
        const resp = responseToReadIndexReq(r, rs.req, rs.index);
        if (resp) r.send(resp);
      }
      return;
    }
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for an append response or heartbeat before probing again.
      pr.probeSent = true;
      return;
    case MessageType.MsgUnreachable:
      // Sending failed: stop pipelining into the void, probe instead.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.MsgTransferLeader: {
      if (pr.isLearner) {
        r.log('info', 'ignored leadership transfer to a learner', { to: m.from });
        return;
      }
      const transferee = m.from;
      if (r.leadTransferee !== NONE) {
        if (r.leadTransferee === transferee) return;
        // A new target replaces the old one: the transfer goes on (no abort, nothing appended in between).
        r.leadTransferee = NONE;
      }
      if (transferee === r.id) return;
      // The transfer must finish within an election timeout (§3.10).
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      r.log('info', 'starting leadership transfer', { to: transferee });
      if (pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(transferee);
      else r.sendAppend(transferee);
      return;
    }
  }
}

function stepProposal(r: Raft, m: Message): void {
  if (m.entries.length === 0) throw ErrProposalDropped;
  if (!r.trk.progress.has(r.id)) throw ErrProposalDropped; // removed from the config
  if (r.leadTransferee !== NONE) throw ErrProposalDropped; // §3.10: stop accepting while transferring
  // Each conf change is checked against the configuration it will be applied
  // to; with two in one batch the second would be checked against a config the
  // first is about to change (and both would pass the one-pending rule).
  const confChanges = m.entries.filter((e) => e.type === EntryType.ConfChange);
  if (confChanges.length > 1) throw new ConfChangeError(`at most one configuration change per proposal, got ${confChanges.length}`);
  for (const e of confChanges) checkConfChangeProposal(r, decodeConfChange(e.data));
  if (!r.appendEntry(m.entries)) throw ErrProposalDropped;
  for (const e of m.entries) {
    if (e.type === EntryType.ConfChange) r.pendingConfIndex = e.index;
  }
}

function stepReadIndex(r: Raft, m: Message): void {
  if (r.trk.isSingleton()) {
    // A single voter is trivially still the leader.
    const resp = responseToReadIndexReq(r, m, r.raftLog.committed);
    if (resp) r.send(resp);
    return;
  }
  // §6.4 step 1: until an entry of this term commits, our commit index may be
  // behind the true one; hold the request until then.
  if (!r.committedEntryInCurrentTerm()) {
    // Bounded like the read queue itself; a dropped read times out at the client and is retried.
    if (r.pendingReadIndexMessages.length < MAX_PENDING_READ_INDEX) r.pendingReadIndexMessages.push(m);
    return;
  }
  sendMsgReadIndexResponse(r, m);
}
