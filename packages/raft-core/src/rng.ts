// Seeded pseudo-random numbers. The core never uses a global random source: every
// randomized election timeout comes from the Rng in its Config, so a run is
// reproducible from its seed (the one thing we do better than etcd).

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** sfc32 seeded through splitmix32: fast, 128 bits of state, good statistical quality. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  // High bits of seeds above 2^32 are folded in, so distinct safe-integer seeds differ.
  let a = split() ^ Math.floor(seed / 0x100000000);
  let b = split();
  let c = split();
  let d = split();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  return {
    next: () => u32() / 0x100000000,
    int: (n: number) => {
      if (!(n > 0)) return 0;
      return Math.floor((u32() / 0x100000000) * n);
    },
  };
}
