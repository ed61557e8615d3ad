// Membership on the Raft node: validating a proposed change, applying a
// committed one, and reacting to the new configuration (chapter 4). The
// configuration maths itself is pure and lives in confchange/.
import { Changer, enterJoint, isLeaveJoint, type ChangeResult } from './confchange/confchange.js';
import { ConfChangeError, ErrConfChangePending } from './errors.js';
import type { Raft } from './raft.js';
import { NONE, StateType, type ConfChange, type ConfState } from './types.js';

/** Build the result of applying cc to the current config without installing it (throws ConfChangeError). */
export function planConfChange(r: Raft, cc: ConfChange): ChangeResult {
  const ch = new Changer({ ...r.changerBase(), config: r.trk.config, progress: r.trk.progress });
  if (isLeaveJoint(cc)) return ch.leaveJoint();
  const j = enterJoint(cc);
  if (j.joint) return ch.enterJoint(j.autoLeave, cc.changes);
  return ch.simple(cc.changes);
}

export function applyConfChange(r: Raft, cc: ConfChange): ConfState {
  return switchToConfig(r, planConfChange(r, cc));
}

/** Install a new configuration and react to it (a removed leader steps down). */
export function switchToConfig(r: Raft, res: ChangeResult): ConfState {
  r.trk.config = res.config;
  r.trk.progress = res.progress;
  const cs = r.trk.confState();
  const pr = r.trk.progress.get(r.id);
  r.isLearner = pr?.isLearner ?? false;
  if ((!pr || r.isLearner) && r.state === StateType.Leader) {
    // This leader was removed (or demoted). Hand leadership to the most
    // up-to-date voter at once instead of leaving the cluster to wait an
    // election timeout, then step down (thesis §4.2.2). Also when that voter
    // lacks our newest entries: under a write load some always follow the
    // conf change and are on no voter yet (torture finding 6). Those entries
    // are not committed (no voter has them), so nothing committed is lost;
    // the voter has everything committed (its match is the highest, and the
    // change committed on a quorum), and the election rules stay the judge:
    // a voter with a longer log refuses its vote and elects later, as it would
    // have anyway. A removed leader cannot wait for it to catch up: it no
    // longer leads the new configuration.
    let best = NONE;
    let bestMatch = -1;
    r.trk.visit((id, p) => {
      if (id === r.id || p.isLearner || !r.trk.config.voters.has(id)) return;
      if (p.match > bestMatch) {
        best = id;
        bestMatch = p.match;
      }
    });
    if (best !== NONE) r.sendTimeoutNow(best);
    r.log('info', 'leader removed from configuration; stepping down', { handoff: best, handoffMatch: bestMatch, lastIndex: r.raftLog.lastIndex() });
    r.becomeFollower(r.term, NONE);
    return cs;
  }
  if (r.state !== StateType.Leader || cs.voters.length === 0) return cs;
  // The quorum changed: maybe more is committed now; new members need appends.
  r.maybeCommit();
  r.needBcast = true;
  if (r.leadTransferee !== NONE && !r.trk.config.voters.has(r.leadTransferee)) r.abortLeaderTransfer();
  return cs;
}

/** Leader-side validation of a proposed conf change; throws a named error if it cannot be accepted now. */
export function checkConfChangeProposal(r: Raft, cc: ConfChange): void {
  if (r.pendingConfIndex > r.raftLog.applied) {
    throw ErrConfChangePending;
  }
  const alreadyJoint = r.trk.config.voters.isJoint();
  const wantsLeaveJoint = isLeaveJoint(cc);
  if (alreadyJoint && !wantsLeaveJoint) throw new ConfChangeError('must transition out of joint config first');
  if (!alreadyJoint && wantsLeaveJoint) throw new ConfChangeError('not in joint state; refusing empty conf change');
  // Dry run against the current config, which is exactly the config this
  // change will be applied to (no other change is pending).
  planConfChange(r, cc);
}
