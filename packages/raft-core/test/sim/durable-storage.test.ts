// The storage double keeps exactly what was synced through a power loss: what
// was written after the last sync (appends, a replaced suffix, hard states) is
// rolled back; what was synced, and snapshots/compaction (which sync), stay.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/index.js';
import { DurableMemoryStorage } from './durable-storage.js';

const ent = (index: number, term: number, s = `${index}.${term}`): Entry => ({ index, term, type: 0, data: new TextEncoder().encode(s) });
const terms = (st: DurableMemoryStorage): number[] => st.entries(st.firstIndex(), st.lastIndex() + 1, Infinity).map((e) => e.term);

describe('DurableMemoryStorage', () => {
  it('a power loss undoes everything written since the last sync, newest first', () => {
    const st = new DurableMemoryStorage({ voters: [1, 2, 3] });
    st.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    st.setHardState({ term: 1, vote: 1, commit: 2 });
    st.sync();
    // Unsynced: a conflicting suffix from index 2, more entries, a new hard state.
    st.append([ent(2, 2), ent(3, 2)]);
    st.append([ent(4, 2)]);
    st.setHardState({ term: 2, vote: 0, commit: 3 });
    expect(terms(st)).toEqual([1, 2, 2, 2]);
    expect(st.unsynced).toBe(3);
    expect(st.losePowerWrites()).toBe(3);
    expect(terms(st)).toEqual([1, 1, 1]);
    expect(st.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 2 });
    expect(st.unsynced).toBe(0);
  });

  it('synced writes and snapshots survive; compaction syncs what came before it', () => {
    const st = new DurableMemoryStorage({ voters: [1] });
    st.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    st.setHardState({ term: 1, vote: 1, commit: 3 });
    st.createSnapshot(2, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array(0));
    st.compact(2);
    st.append([ent(4, 1)]);
    st.losePowerWrites();
    expect(st.firstIndex()).toBe(3);
    expect(st.lastIndex()).toBe(3);
    expect(st.snapshot().metadata.index).toBe(2);
    expect(st.initialState().hardState.commit).toBe(3);
  });

  it('a process crash keeps unsynced writes until a power loss takes them', () => {
    const st = new DurableMemoryStorage({ voters: [1] });
    st.append([ent(1, 1)]);
    // No sync: a process crash does not call losePowerWrites, the OS still has the write.
    expect(st.lastIndex()).toBe(1);
    expect(st.losePowerWrites()).toBe(1);
    expect(st.lastIndex()).toBe(0);
  });
});
