// What the leader knows about one follower's log (thesis §3.5, etcd's
// Progress): match/next plus a small state machine that decides how to send.
import { Inflights } from './inflights.js';

export enum ProgressState {
  /** We do not know where the follower's log ends: send one MsgApp at a time and wait (probing back to the match point). */
  Probe = 'probe',
  /** The follower is caught up to `match`: stream MsgApps optimistically, bounded by the in-flight window. */
  Replicate = 'replicate',
  /** The entries it needs are compacted: a snapshot is on its way; send nothing until it is acknowledged or fails. */
  Snapshot = 'snapshot',
}

export class Progress {
  match = 0;
  next = 1;
  state = ProgressState.Probe;
  /** Index of the snapshot in flight while in Snapshot state. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round (thesis §6.2). */
  recentActive = false;
  /** Probe state: one MsgApp was sent; wait for a reply or heartbeat before the next. */
  probeSent = false;
  isLearner = false;
  inflights: Inflights;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner = false) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Coming back from a snapshot, the follower has at least the snapshot.
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An ack for index n arrived: raise match (and next). Returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Entries up to `last` were just sent (Replicate: pipelined; Probe: wait for the answer). */
  sentEntries(last: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      this.next = last + 1;
      this.inflights.add(last, bytes);
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  /**
   * A MsgApp with prev index `rejected` was refused; `matchHint` is the
   * follower's guess of where the logs may match (fast back-off, thesis
   * §5.3 end). Returns false for a stale rejection that must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale: we already know the follower has `rejected`.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe: only the rejection of the append we last sent (prev = next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
