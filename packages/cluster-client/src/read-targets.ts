// Where reads go when they may be spread over the members (readFrom 'any').
// Every member serves a linearizable read: a follower or learner asks the
// leader for the read index (ReadIndex, Raft thesis §6.4) and answers once it
// has applied that index, so any member's answer is as fresh as the leader's.
// Spreading moves the per-read work (the gRPC call, the lookup, the JSON)
// off the leader, whose CPU the write path needs; the leader only confirms
// one batched read index per round.
//
// The choice is least outstanding reads first (a slow or busy member gets
// fewer), ties broken round-robin. A member that failed a read (unreachable,
// timed out, overloaded, no leader) is skipped for DOWN_MS, and the caller
// falls back to the leader for that read.

/** 'leader': reads go where writes go (one hop, the default of the library). 'any': spread over every member. */
export type ReadFrom = 'leader' | 'any';
export const READ_FROM_VALUES: readonly ReadFrom[] = ['leader', 'any'];

/** A member that failed a read is not picked again for this long (ms). */
export const READ_TARGET_DOWN_MS = 2_000;
/** How often the member list is refreshed from Status while reads are spread (ms). */
export const DEFAULT_MEMBER_REFRESH_MS = 5_000;

/** Parses a readFrom setting (e.g. FLAGRAFT_READ_FROM); throws naming `field` and the accepted values. */
export function parseReadFrom(v: string | undefined, field: string, fallback: ReadFrom): ReadFrom {
  if (v === undefined || v === '') return fallback;
  if ((READ_FROM_VALUES as readonly string[]).includes(v)) return v as ReadFrom;
  throw new Error(`${field}: expected ${READ_FROM_VALUES.join(' or ')}, got ${JSON.stringify(v)}`);
}

export class ReadTargets {
  /** Client addresses reads may go to: the configured endpoints until the first Status names the members. */
  private targets: string[];
  private readonly outstanding = new Map<string, number>();
  private readonly downUntil = new Map<string, number>();
  private cursor = 0;

  constructor(
    endpoints: string[],
    /** True while the connection to an address is known to be down (gRPC TRANSIENT_FAILURE). */
    private readonly channelDown: (address: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.targets = [...new Set(endpoints)];
  }

  /** The members' client addresses from Status (voters and learners); members whose address is not known yet are left out. */
  setMembers(addresses: string[]): void {
    const known = [...new Set(addresses.filter((a) => a))];
    if (known.length > 0) this.targets = known;
  }

  list(): readonly string[] {
    return this.targets;
  }

  /** The member with the fewest reads in flight among those not known to be down; undefined if every one is. */
  pick(): string | undefined {
    const n = this.targets.length;
    const t = this.now();
    let best = -1;
    let bestLoad = Infinity;
    for (let i = 0; i < n; i++) {
      const at = (this.cursor + i) % n;
      const a = this.targets[at];
      if ((this.downUntil.get(a) ?? 0) > t || this.channelDown(a)) continue;
      const load = this.outstanding.get(a) ?? 0;
      if (load < bestLoad) { best = at; bestLoad = load; }
    }
    if (best < 0) return undefined;
    // The next search starts after this one: ties go round-robin.
    this.cursor = (best + 1) % n;
    return this.targets[best];
  }

  begin(address: string): void {
    this.outstanding.set(address, (this.outstanding.get(address) ?? 0) + 1);
  }

  /** The read on `address` finished; `failed` (a retryable failure) skips the member for READ_TARGET_DOWN_MS. */
  end(address: string, failed: boolean): void {
    const left = (this.outstanding.get(address) ?? 1) - 1;
    if (left > 0) this.outstanding.set(address, left); else this.outstanding.delete(address);
    if (failed) this.downUntil.set(address, this.now() + READ_TARGET_DOWN_MS);
    else this.downUntil.delete(address);
  }
}
