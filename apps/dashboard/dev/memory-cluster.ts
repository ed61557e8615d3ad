// DEVELOPMENT AID ONLY — not used by any test. An in-memory stand-in for the
// consensus cluster (flag-model's applyCommand over a MemoryStateView), for
// working on pages with `node --import tsx dev/dev-gateway.ts` when the real
// cluster is not at hand. The e2e tests use the real cluster (test/stack.ts).
import { applyCommand, MemoryStateView, type Change, type Command, type StoredFlag } from '@flagraft/flag-model';

class DevClusterError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly currentRevision?: number,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export function createMemoryCluster() {
  const view = new MemoryStateView();
  const log: Change[] = [];
  let revision = 0;
  const watchers = new Set<(c: Change) => void>();
  const run = (body: Record<string, unknown>, actor: string) => {
    const cmd = { v: 1, actor, time: Date.now(), ...body } as unknown as Command;
    const r = applyCommand(view, cmd, revision + 1);
    if (!r.ok) throw new DevClusterError(r.error.code, r.error.message, r.error.currentRevision, r.error.issues);
    revision++;
    view.commit(r.changes);
    log.push(...r.changes);
    for (const c of r.changes) for (const w of watchers) w(c);
    return r.changes;
  };
  const page = <T>(items: T[], keyOf: (t: T) => string, o: { prefix?: string; limit?: number; pageToken?: string }) => {
    const sorted = items.filter((i) => !o.prefix || keyOf(i).startsWith(o.prefix)).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    const start = o.pageToken ? sorted.findIndex((i) => keyOf(i) > o.pageToken!) : 0;
    const slice = start < 0 ? [] : sorted.slice(start, start + (o.limit ?? 100));
    const more = start >= 0 && start + slice.length < sorted.length;
    return { slice, next: more ? keyOf(slice[slice.length - 1]) : undefined };
  };
  return {
    async putFlag(flag: any, o: any) {
      const [c] = run({ op: 'putFlag', flag, expectedRevision: o.expectedRevision }, o.actor);
      return { revision, flag: c.after as StoredFlag };
    },
    async deleteFlag(key: string, o: any) {
      run({ op: 'deleteFlag', key, expectedRevision: o.expectedRevision }, o.actor);
      return { revision };
    },
    async putSegment(segment: any, o: any) {
      const [c] = run({ op: 'putSegment', segment, expectedRevision: o.expectedRevision }, o.actor);
      return { revision, segment: c.after as any };
    },
    async deleteSegment(name: string, o: any) {
      run({ op: 'deleteSegment', name, expectedRevision: o.expectedRevision }, o.actor);
      return { revision };
    },
    async batch(ops: any[], o: any) {
      const changes = run({ op: 'batch', ops }, o.actor);
      return { revision, changes };
    },
    async getFlag(key: string) {
      return view.getFlag(key);
    },
    async getSegment(name: string) {
      return view.getSegment(name);
    },
    async listFlags(o: any = {}) {
      const p = page([...view.flags.values()], (f) => f.flag.key, o);
      return { flags: p.slice, nextPageToken: p.next, revision };
    },
    async listSegments(o: any = {}) {
      const p = page([...view.segments.values()], (s) => s.segment.name, o);
      return { segments: p.slice, nextPageToken: p.next, revision };
    },
    async snapshotAll() {
      return { revision, flags: [...view.flags.values()], segments: [...view.segments.values()] };
    },
    async history(key: string, o: any = {}) {
      return log.filter((c) => c.key === key && c.kind === (o.kind ?? 'flag')).reverse().slice(0, o.limit ?? 100);
    },
    watch(o: any) {
      const w = (c: Change) => o.onChange({ ...c });
      for (const c of log) if (c.revision > o.fromRevision) w(c);
      watchers.add(w);
      return { close: () => watchers.delete(w) };
    },
    async status() {
      return {
        clusterId: 'dev-memory',
        leaderId: 1,
        term: 1,
        commitIndex: revision,
        appliedIndex: revision,
        publishedRevision: revision,
        members: [1, 2, 3].map((id) => ({ id, address: `memory:${id}`, role: 'voter', matchIndex: revision, lag: 0, reachable: true })),
      };
    },
    async addLearner() {},
    async promoteLearner() {},
    async removeMember() {},
    async transferLeader() {},
    close() {},
  };
}
