// Follower behaviour (installed by becomeFollower).
import { ErrProposalDropped } from './errors.js';
import { CampaignType, type Raft } from './raft.js';
import { MessageType, NONE, type Message } from './types.js';

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      // Proposals are not forwarded: the driver answers clients with the leader hint instead.
      throw ErrProposalDropped;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
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
