// The state machine as the Ready loop sees it: hashicorp/raft's FSM shape
// (apply, snapshot, restore) in etcd's Ready contract. The loop
// (raft-driver.ts, durability.ts) knows Raft entries, not what they mean: the
// flag state machine (state-machine.ts) implements this, and its results (R)
// go back to the node around it to answer whoever waits for them.
import type { ConfChange, ConfState, Entry, Snapshot } from '@flagraft/raft-core';

export interface Fsm<R> {
  /** Index and term of the last applied entry, as durable in the state: a restart resumes after it. */
  applied(): { index: number; term: number };
  /** Membership as of the applied index (what raft-core's Storage.initialState() reports). */
  confState(): ConfState;
  /**
   * Runs `fn` (a batch of apply calls) and records `last` as applied,
   * atomically: after a crash either the whole batch is applied or none of
   * it, and the durable log replays what is missing. Not necessarily on disk
   * when it returns (see durability.ts).
   */
  atomically<T>(last: { index: number; term: number }, fn: () => T): T;
  /** One committed Normal entry with data (a leader's empty no-op never comes here). Inside atomically() only. */
  apply(entry: Entry): R;
  /**
   * A committed ConfChange entry: `confState` is the membership raft-core
   * made of it, or undefined when raft-core refused it (a no-op on every
   * replica). Inside atomically() only.
   */
  applyConfChange(entry: Entry, cc: ConfChange, confState: ConfState | undefined): R;
  /** The whole state at the applied index, serialised (the data of a raft-core Snapshot). */
  snapshot(): { index: number; confState: ConfState; data: Uint8Array };
  /** Replaces the whole state with a snapshot from the leader; on disk when it returns. */
  restore(snapshot: Snapshot): void;
  /** Puts everything applied so far on disk (the log behind it is about to be dropped). */
  sync(): void;
}
