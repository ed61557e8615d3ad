// GET /api/v1/stream (committed changes) and GET /ofrep/v1/events (OFREP
// refetchEvaluation pushes). Resume: Last-Event-ID (or ?since=) names the last
// event seen; recent events replay from the replica's memory, older ones from a
// cluster Watch started at that revision, after which the stream switches to
// the live feed without gaps or duplicates (events are ordered by
// (revision, index) and anything at or before the last sent position is skipped).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './log.js';
import { HttpProblem } from './problem.js';
import type { Replica, ReplicaEvent } from './replica.js';
import { toChangeEvent } from './replica.js';
import { frame, parsePosition, type SseConnection, type SseHub, type StreamPosition } from './sse.js';
import { toAnyChangeEvent } from './replica.js';
import type { AnyChangeEvent, ChangeEvent, ClusterPort, WatchHandle } from './types.js';
import { isClusterError } from './problem.js';

export interface StreamDeps {
  hub: SseHub;
  replica: Replica;
  cluster: ClusterPort;
  log: Logger;
}

/** Kinds a stream of every environment may filter on (the legacy stream: flag, segment). */
export const STREAM_KINDS = ['flag', 'segment', 'environment', 'changeRequest', 'schedule'] as const;
type StreamKind = (typeof STREAM_KINDS)[number];

export interface Filter {
  prefix?: string;
  kind?: StreamKind;
  /**
   * Set: the stream of every environment (?environments=all), keeping the
   * events this returns true for (a limited token's environments). Unset:
   * the legacy stream, exactly as before environments.
   */
  visible?: (e: AnyChangeEvent) => boolean;
}

function matches(filter: Filter, e: AnyChangeEvent): boolean {
  if (filter.kind && e.kind !== filter.kind) return false;
  if (filter.prefix && !e.key.startsWith(filter.prefix)) return false;
  if (filter.visible && !filter.visible(e)) return false;
  return true;
}

/** The environment an event belongs to (undefined: a segment, shared by all). */
export function environmentOf(e: AnyChangeEvent, defaultEnvironment: string): string | undefined {
  switch (e.kind) {
    case 'flag': return e.env ?? defaultEnvironment;
    case 'segment': return undefined;
    case 'environment': return e.key;
    case 'changeRequest': return e.changeRequest?.changeRequest.env ?? undefined;
    case 'schedule': return e.schedule?.schedule.env ?? undefined;
  }
}

function isAfter(rev: number, index: number, pos: StreamPosition): boolean {
  return rev > pos.revision || (pos.index !== undefined && rev === pos.revision && index > pos.index);
}

/** Reads the resume position: the Last-Event-ID header wins over ?since= (EventSource re-sends the header, not a new URL). */
export function resumePosition(req: IncomingMessage, query: Record<string, unknown>): StreamPosition | undefined {
  const header = req.headers['last-event-id'];
  const raw = typeof header === 'string' && header !== '' ? header : typeof query.since === 'string' ? query.since : undefined;
  if (raw === undefined) return undefined;
  const pos = parsePosition(raw);
  if (!pos) throw new HttpProblem('bad-request', `Last-Event-ID / since must be a revision like "42" or "42:1", got ${JSON.stringify(raw.slice(0, 40))}`);
  return pos;
}

export function parseFilter(query: Record<string, unknown>): Filter {
  const filter: Filter = {};
  if (query.prefix !== undefined) {
    if (typeof query.prefix !== 'string' || query.prefix.length > 128) throw new HttpProblem('bad-request', 'prefix: must be a string of at most 128 characters');
    filter.prefix = query.prefix;
  }
  const all = query.environments !== undefined;
  if (all && query.environments !== 'all') throw new HttpProblem('bad-request', 'environments: must be all (or absent: the default environment\'s flags and segments, as before environments)');
  if (query.kind !== undefined) {
    const kinds: readonly string[] = all ? STREAM_KINDS : ['flag', 'segment'];
    if (typeof query.kind !== 'string' || !kinds.includes(query.kind)) throw new HttpProblem('bad-request', `kind: must be ${kinds.join(', ')}${all ? '' : ' (the other kinds with environments=all)'}`);
    filter.kind = query.kind as StreamKind;
  }
  if (all) filter.visible = () => true;
  return filter;
}

export function openChangeStream(
  deps: StreamDeps,
  req: IncomingMessage,
  res: ServerResponse,
  pos: StreamPosition | undefined,
  filter: Filter,
  corsHeaders: Record<string, string> = {},
): void {
  const { hub, replica } = deps;
  if (!replica.loaded) throw new HttpProblem('unavailable', 'the gateway has not loaded its replica yet', {}, { 'retry-after': '1' });
  if (hub.full()) throw new HttpProblem('unavailable', 'too many stream clients on this gateway', {}, { 'retry-after': '5' });

  // The feed: the legacy one, or every environment's (its own ring and ids, its catch-up asks the cluster for every environment).
  const all = filter.visible !== undefined;
  const subscribe = (sub: { onEvents(events: ReplicaEvent<AnyChangeEvent>[]): void; onReset(revision: number, reason: string): void }) =>
    all ? replica.subscribeAll(sub) : replica.subscribe(sub);
  const eventsAfter = (revision: number, index?: number): ReplicaEvent<AnyChangeEvent>[] | undefined =>
    all ? replica.allEventsAfter(revision, index) : replica.eventsAfter(revision, index);
  const parse = (raw: unknown): AnyChangeEvent | undefined => (all ? toAnyChangeEvent(raw) : toChangeEvent(raw));
  let last: StreamPosition = pos ?? { revision: replica.revision };
  let live = false;
  let pendingLive: ReplicaEvent<AnyChangeEvent>[] = [];
  let pendingBytes = 0;
  let catchup: WatchHandle | undefined;
  let unsubscribe = () => {};
  const conn: SseConnection = hub.open(res, 'changes', corsHeaders, () => {
    unsubscribe();
    catchup?.close();
  });

  const send = (e: AnyChangeEvent, index: number, id: string, json?: string): boolean => {
    if (!isAfter(e.revision, index, last)) return true;
    last = id.includes(':') ? { revision: e.revision, index } : { revision: e.revision };
    if (!matches(filter, e)) return true;
    return conn.write(frame(json ?? JSON.stringify(e), id));
  };
  const sendAll = (events: ReplicaEvent<AnyChangeEvent>[]) => {
    let chunk = '';
    for (const e of events) {
      if (!isAfter(e.event.revision, e.index, last)) continue;
      last = e.id.includes(':') ? { revision: e.event.revision, index: e.index } : { revision: e.event.revision };
      if (matches(filter, e.event)) chunk += frame(e.json, e.id);
    }
    if (chunk) conn.write(chunk);
  };
  const reset = (revision: number, reason: string) => {
    last = { revision };
    conn.write(frame(JSON.stringify({ revision, reason }), String(revision), 'reset'));
  };

  unsubscribe = subscribe({
    onEvents(events) {
      if (live) return sendAll(events);
      // While catching up from the cluster, hold live events; the bound is the
      // same as the socket's so a catch-up cannot grow memory without limit.
      for (const e of events) pendingBytes += e.json.length;
      if (pendingBytes > hub.maxBufferedBytes) return hub.drop(conn, 'slow');
      pendingLive.push(...events);
    },
    onReset(revision, reason) {
      if (!live) {
        catchup?.close();
        catchup = undefined;
        pendingLive = [];
        live = true;
      }
      reset(revision, reason);
    },
  });

  if (pos === undefined) {
    // A fresh subscriber: tell it where it starts, with an id so a reconnect resumes from here.
    conn.write(frame(JSON.stringify({ revision: replica.revision }), String(replica.revision), 'ready'));
    live = true;
    return;
  }
  conn.write(frame(JSON.stringify({ revision: replica.revision, resumeFrom: pos.index === undefined ? String(pos.revision) : `${pos.revision}:${pos.index}` }), undefined, 'ready'));
  const fromMemory = eventsAfter(pos.revision, pos.index);
  if (fromMemory) {
    sendAll(fromMemory);
    live = true;
    return;
  }
  // Older than memory: replay from the cluster up to the revision the replica had
  // when we subscribed, then drain what arrived live meanwhile.
  const target = replica.revision;
  let watchRev = -1;
  let watchIndex = -1;
  const goLive = () => {
    if (live) return;
    catchup?.close();
    catchup = undefined;
    live = true;
    const held = pendingLive;
    pendingLive = [];
    sendAll(held);
  };
  // The position is past what the cluster keeps: the client must re-read the state.
  const compacted = () => {
    if (live) return;
    catchup?.close();
    catchup = undefined;
    live = true;
    reset(target, 'compacted');
    const held = pendingLive;
    pendingLive = [];
    sendAll(held);
  };
  if (pos.revision >= target) return goLive();
  catchup = deps.cluster.watch({
    fromRevision: pos.index === undefined ? pos.revision : pos.revision - 1,
    ...(all ? { allEnvironments: true } : {}),
    onChange(raw) {
      if (live || conn.closed) return;
      const e = parse(raw);
      if (!e) return;
      watchIndex = e.revision === watchRev ? watchIndex + 1 : 0;
      watchRev = e.revision;
      if (e.revision > target) return goLive();
      // Ids from the cluster replay carry the index; the live feed marks the last of a revision with the bare revision.
      if (!send(e, watchIndex, `${e.revision}:${watchIndex}`)) return;
    },
    onProgress(revision) {
      if (revision >= target) goLive();
    },
    onCompacted: compacted,
    onError(err) {
      if (isClusterError(err) && err.code === 'COMPACTED') compacted();
      else deps.log.log('warn', 'stream catch-up watch error; resuming', { error: (err as Error)?.message });
    },
  });
}

/** Changed keys listed in one OFREP event at most; beyond it the event names none (everything may have changed). */
export const MAX_CHANGED_KEYS_PER_EVENT = 100;

/**
 * OFREP event stream: a `refetchEvaluation` message whenever the configuration
 * changes, with `etag` = the revision (clients send it back as
 * `flagConfigEtag`, see ofrep.ts) and, as a flagraft extension the official
 * providers ignore, `flags`: the keys whose answers may have changed (a segment
 * change names the flags using the segment). No `flags` means "anything".
 * A client that resumes (Last-Event-ID, else `?since=`) from an older revision
 * gets one message at once.
 */
export function openOfrepStream(deps: StreamDeps, req: IncomingMessage, res: ServerResponse, corsHeaders: Record<string, string>, since?: string, env?: string): void {
  const { hub, replica } = deps;
  if (hub.full()) throw new HttpProblem('unavailable', 'too many stream clients on this gateway', {}, { 'retry-after': '5' });
  const header = req.headers['last-event-id'];
  const raw = typeof header === 'string' && header !== '' ? header : since;
  const pos = raw !== undefined ? parsePosition(raw) : undefined;
  let unsubscribe = () => {};
  const conn = hub.open(res, 'ofrep', corsHeaders, () => unsubscribe());
  const refetch = (revision: number, keys?: string[]) => {
    const data = keys === undefined ? { type: 'refetchEvaluation', etag: String(revision) } : { type: 'refetchEvaluation', etag: String(revision), flags: keys };
    conn.write(frame(JSON.stringify(data), String(revision), 'message'));
  };
  // An evaluator of another environment than the default one (env-scope.ts)
  // follows the feed of every environment, told only of its own flags'
  // changes (and of segments, shared by all): never of another environment's.
  unsubscribe = env === undefined
    ? replica.subscribe({
      onEvents: (events, revision) => refetch(revision, changedFlagKeys(replica, events)),
      onReset: (revision) => refetch(revision),
    })
    : replica.subscribeAll({
      onEvents: (events, revision) => {
        const mine = events.filter(({ event: e }) => (e.kind === 'flag' && e.env === env) || e.kind === 'segment' || (e.kind === 'environment' && e.key === env));
        if (mine.length > 0) refetch(revision, changedFlagKeys(replica, mine as ReplicaEvent[], env));
      },
      onReset: (revision) => refetch(revision),
    });
  if (pos && pos.revision < replica.revision) refetch(replica.revision);
}

/** Flag keys whose evaluation a batch of changes may affect; undefined = too many to list. */
export function changedFlagKeys(replica: Replica, events: ReplicaEvent[], env?: string): string[] | undefined {
  const keys = new Set<string>();
  for (const { event } of events) {
    if (event.kind === 'flag') keys.add(event.key);
    else if (event.kind !== 'segment') return undefined; // the environment itself changed: anything may have
    else for (const key of replica.flagsUsingSegment(event.key, env)) keys.add(key);
    if (keys.size > MAX_CHANGED_KEYS_PER_EVENT) return undefined;
  }
  return [...keys];
}
