// Views of the state used while applying: an Overlay (a base view plus the
// changes a command has made so far, so a multi-change command sees its own
// effects and is still all-or-nothing) and MemoryStateView (a whole state in
// memory: tests, simulations, the dashboard's development cluster).
import { DEFAULT_ENVIRONMENT } from './environments.js';
import { referencedSegments } from './validate.js';
import type {
  Change, ChangeKind, StateView, StoredChangeRequest, StoredEnvironment, StoredFlag, StoredItem, StoredSchedule, StoredSegment,
} from './types.js';

/** The environment a flag change is in (absent = the default one). */
export function changeEnv(view: StateView, c: Pick<Change, 'env'>): string {
  return c.env ?? view.defaultEnvironment();
}

function slot(kind: ChangeKind, key: string, env = ''): string {
  return `${kind}\u0000${env}\u0000${key}`;
}

/** The base view plus changes recorded so far. */
export class Overlay implements StateView {
  private readonly items = new Map<string, StoredItem | null>();
  constructor(private readonly base: StateView) {}

  record(c: Change): void {
    this.items.set(slot(c.kind, c.key, c.kind === 'flag' ? changeEnv(this, c) : ''), c.after);
  }

  private get<T extends StoredItem>(kind: ChangeKind, key: string, env: string, fromBase: () => T | undefined): T | undefined {
    const s = slot(kind, key, env);
    return this.items.has(s) ? (this.items.get(s) as T | null) ?? undefined : fromBase();
  }

  defaultEnvironment(): string { return this.base.defaultEnvironment(); }
  getFlag(key: string): StoredFlag | undefined { return this.getFlagIn(this.defaultEnvironment(), key); }
  getFlagIn(env: string, key: string): StoredFlag | undefined { return this.get('flag', key, env, () => this.base.getFlagIn(env, key)); }
  getSegment(name: string): StoredSegment | undefined { return this.get('segment', name, '', () => this.base.getSegment(name)); }
  getEnvironment(name: string): StoredEnvironment | undefined { return this.get('environment', name, '', () => this.base.getEnvironment(name)); }
  getChangeRequest(id: string): StoredChangeRequest | undefined { return this.get('changeRequest', id, '', () => this.base.getChangeRequest(id)); }
  getSchedule(id: string): StoredSchedule | undefined { return this.get('schedule', id, '', () => this.base.getSchedule(id)); }

  /** Base keys of `kind` (in `env`) adjusted by what the overlay put or deleted. */
  private keys(kind: ChangeKind, env: string, baseKeys: string[], keep: (item: StoredItem) => boolean = () => true): string[] {
    const out = new Set(baseKeys.filter((k) => !this.items.has(slot(kind, k, env))));
    const prefix = slot(kind, '', env);
    for (const [s, item] of this.items) if (s.startsWith(prefix) && item && keep(item)) out.add(s.slice(prefix.length));
    return [...out].sort();
  }

  environmentNames(): string[] { return this.keys('environment', '', this.base.environmentNames()); }
  recordIds(kind: 'changeRequest' | 'schedule'): string[] { return this.keys(kind, '', this.base.recordIds(kind)); }
  flagKeysIn(env: string): string[] { return this.keys('flag', env, this.base.flagKeysIn(env)); }
  segmentUsersIn(env: string, name: string): string[] {
    return this.keys('flag', env, this.base.segmentUsersIn(env, name), (f) => referencedSegments((f as StoredFlag).flag).includes(name));
  }
  segmentUsers(name: string): string[] {
    const all = new Set<string>();
    for (const env of this.environmentNames()) for (const k of this.segmentUsersIn(env, name)) all.add(k);
    return [...all].sort();
  }
}

/** A whole state in memory. Starts with one environment, the default (`production`, a production environment, no policy). */
export class MemoryStateView implements StateView {
  /** The default environment's flags (what getFlag reads). */
  readonly flags: Map<string, StoredFlag>;
  readonly envFlags = new Map<string, Map<string, StoredFlag>>();
  readonly segments = new Map<string, StoredSegment>();
  readonly environments = new Map<string, StoredEnvironment>();
  readonly changeRequests = new Map<string, StoredChangeRequest>();
  readonly schedules = new Map<string, StoredSchedule>();
  private readonly defaultEnv: string;

  constructor(defaultEnv = DEFAULT_ENVIRONMENT) {
    this.defaultEnv = defaultEnv;
    this.flags = new Map();
    this.envFlags.set(defaultEnv, this.flags);
    this.environments.set(defaultEnv, {
      environment: { name: defaultEnv, production: true }, isDefault: true,
      createRevision: 0, modRevision: 0, version: 1, updatedAt: 0, updatedBy: 'flagraft',
    });
  }

  defaultEnvironment(): string { return this.defaultEnv; }
  getFlag(key: string): StoredFlag | undefined { return this.flags.get(key); }
  getFlagIn(env: string, key: string): StoredFlag | undefined { return this.envFlags.get(env)?.get(key); }
  getSegment(name: string): StoredSegment | undefined { return this.segments.get(name); }
  getEnvironment(name: string): StoredEnvironment | undefined { return this.environments.get(name); }
  getChangeRequest(id: string): StoredChangeRequest | undefined { return this.changeRequests.get(id); }
  getSchedule(id: string): StoredSchedule | undefined { return this.schedules.get(id); }
  environmentNames(): string[] { return [...this.environments.keys()].sort(); }
  recordIds(kind: 'changeRequest' | 'schedule'): string[] { return [...(kind === 'changeRequest' ? this.changeRequests : this.schedules).keys()].sort(); }
  flagKeysIn(env: string): string[] { return [...(this.envFlags.get(env)?.keys() ?? [])].sort(); }
  segmentUsersIn(env: string, name: string): string[] {
    const out: string[] = [];
    for (const [k, f] of this.envFlags.get(env) ?? []) if (referencedSegments(f.flag).includes(name)) out.push(k);
    return out.sort();
  }
  segmentUsers(name: string): string[] {
    const all = new Set<string>();
    for (const env of this.envFlags.keys()) for (const k of this.segmentUsersIn(env, name)) all.add(k);
    return [...all].sort();
  }

  /** Writes the changes of a successful apply. */
  commit(changes: Change[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case 'flag': {
          const env = changeEnv(this, c);
          let m = this.envFlags.get(env);
          if (!m) this.envFlags.set(env, (m = new Map()));
          setOrDelete(m, c.key, c.after as StoredFlag | null);
          break;
        }
        case 'segment': setOrDelete(this.segments, c.key, c.after as StoredSegment | null); break;
        case 'environment':
          setOrDelete(this.environments, c.key, c.after as StoredEnvironment | null);
          if (!c.after && c.key !== this.defaultEnv) this.envFlags.delete(c.key);
          break;
        case 'changeRequest': setOrDelete(this.changeRequests, c.key, c.after as StoredChangeRequest | null); break;
        case 'schedule': setOrDelete(this.schedules, c.key, c.after as StoredSchedule | null); break;
      }
    }
  }
}

function setOrDelete<T>(m: Map<string, T>, k: string, v: T | null): void {
  if (v) m.set(k, v);
  else m.delete(k);
}
