// MurmurHash3 x86_32 (Austin Appleby, public domain), over UTF-8 bytes.
// Written here rather than taken from npm because several JS packages hash
// UTF-16 code units or mishandle non-ASCII input, which would bucket users
// differently from flagd. Strings are encoded to UTF-8 on the fly (no
// allocation), exactly as TextEncoder does: a lone surrogate becomes U+FFFD.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Running hash state; a prefix (the flag key) can be hashed once and continued per user. */
export interface Murmur3State {
  h: number;
  /** Pending bytes of the current 4-byte block, little-endian. */
  k: number;
  /** How many bytes are pending in k (0-3). */
  n: number;
  /** Total bytes so far. */
  len: number;
}

export function murmur3Start(seed = 0): Murmur3State {
  return { h: seed | 0, k: 0, n: 0, len: 0 };
}

// Scratch registers for the hot path: hashing is synchronous and
// single-threaded, so module-level variables are safe and avoid allocating.
let sh = 0;
let sk = 0;
let sn = 0;
let slen = 0;

function pushByte(b: number): void {
  sk |= b << (sn << 3);
  if (++sn === 4) {
    let k = Math.imul(sk, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    let h = sh ^ k;
    h = (h << 13) | (h >>> 19);
    sh = (Math.imul(h, 5) + 0xe6546b64) | 0;
    sk = 0;
    sn = 0;
  }
  slen++;
}

function pushString(s: string, from = 0): void {
  const n = s.length;
  for (let i = from; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      pushByte(c);
      continue;
    }
    if (c < 0x800) {
      pushByte(0xc0 | (c >> 6));
      pushByte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        pushByte(0xf0 | (c >> 18));
        pushByte(0x80 | ((c >> 12) & 0x3f));
        pushByte(0x80 | ((c >> 6) & 0x3f));
        pushByte(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd; // lone surrogate, as TextEncoder
    }
    pushByte(0xe0 | (c >> 12));
    pushByte(0x80 | ((c >> 6) & 0x3f));
    pushByte(0x80 | (c & 0x3f));
  }
}

function finish(): number {
  let h = sh;
  if (sn > 0) {
    let k = Math.imul(sk, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= slen;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function reset(seed: number): void {
  sh = seed | 0;
  sk = 0;
  sn = 0;
  slen = 0;
}

function load(st: Murmur3State): void {
  sh = st.h;
  sk = st.k;
  sn = st.n;
  slen = st.len;
}

/** Returns a new state with the UTF-8 bytes of s appended. */
export function murmur3Update(st: Murmur3State, s: string): Murmur3State {
  load(st);
  pushString(s);
  return { h: sh, k: sk, n: sn, len: slen };
}

/** The 32-bit unsigned hash of state + the UTF-8 bytes of s, without changing the state. */
export function murmur3Finish(st: Murmur3State, s = ''): number {
  // Hot path (user ids are nearly always ASCII): whole blocks in locals; the
  // general byte-wise path takes over at the first non-ASCII code unit.
  let h = st.h, k = st.k, n = st.n, len = st.len;
  const end = s.length;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      sh = h;
      sk = k;
      sn = n;
      slen = len;
      pushString(s, i);
      return finish();
    }
    k |= c << (n << 3);
    len++;
    if (++n === 4) {
      k = Math.imul(k, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      k = 0;
      n = 0;
    }
  }
  sh = h;
  sk = k;
  sn = n;
  slen = len;
  return finish();
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of a string. */
export function murmur3(s: string, seed = 0): number {
  reset(seed);
  pushString(s);
  return finish();
}

/** MurmurHash3 x86_32 of raw bytes. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  reset(seed);
  for (let i = 0; i < bytes.length; i++) pushByte(bytes[i]);
  return finish();
}
