// Candidate and pre-candidate behaviour (installed by becomeCandidate / becomePreCandidate).
import { ErrProposalDropped } from './errors.js';
import { CampaignType, type Raft } from './raft.js';
import { handleAppendEntries, handleHeartbeat, handleSnapshot } from './step-follower.js';
import { VoteResult } from './quorum/quorum.js';
import { MessageType, NONE, StateType, type Message } from './types.js';

export function stepCandidate(r: Raft, m: Message): void {
  // Only answers to our own kind of request count: a pre-candidate ignores
  // real votes and vice versa (stale responses of an earlier phase).
  const myVoteRespType = r.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      throw ErrProposalDropped;
    case MessageType.MsgApp:
      // A leader of our term exists (§5.2): give up.
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteRespType: {
      const res = r.poll(m.from, m.type, !m.reject);
      if (res === VoteResult.Won) {
        if (r.state === StateType.PreCandidate) {
          r.campaign(CampaignType.Election);
        } else {
          r.becomeLeader();
          r.needBcast = true;
        }
      } else if (res === VoteResult.Lost) {
        // A pre-candidate that lost returns to follower in its own term.
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
    case MessageType.MsgTimeoutNow:
      r.log('debug', 'ignored MsgTimeoutNow as candidate', { from: m.from });
      return;
  }
}
