// Semantic Versioning 2.0.0 parsing and precedence (semver.org §11), written
// for the evaluation hot path: one pass over the string, no regex, no
// allocation for versions without a pre-release part.

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (numbers for numeric ones); empty for a release. */
  pre: (string | number)[];
}

const MAX_SEMVER_CHARS = 256;
const EMPTY: (string | number)[] = [];

/** Parses `[v]MAJOR.MINOR.PATCH[-PRE][+BUILD]`; undefined if it is not one. */
export function parseSemver(s: string): SemVer | undefined {
  const n = s.length;
  if (n === 0 || n > MAX_SEMVER_CHARS) return undefined;
  let i = 0;
  if (s.charCodeAt(0) === 118 /* v */) i = 1;
  const nums = [0, 0, 0];
  for (let part = 0; part < 3; part++) {
    const start = i;
    let v = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
    }
    const len = i - start;
    if (len === 0 || (len > 1 && s.charCodeAt(start) === 48) || v > Number.MAX_SAFE_INTEGER) return undefined;
    nums[part] = v;
    if (part < 2) {
      if (i >= n || s.charCodeAt(i) !== 46 /* . */) return undefined;
      i++;
    }
  }
  let pre = EMPTY;
  if (i < n && s.charCodeAt(i) === 45 /* - */) {
    const end = s.indexOf('+', i + 1);
    const preStr = s.slice(i + 1, end < 0 ? n : end);
    const ids = preStr.split('.');
    pre = [];
    for (const id of ids) {
      if (!isIdentifier(id)) return undefined;
      if (isDigits(id)) {
        if (id.length > 1 && id.charCodeAt(0) === 48) return undefined;
        pre.push(Number(id));
      } else pre.push(id);
    }
    i = end < 0 ? n : end;
  }
  if (i < n) {
    if (s.charCodeAt(i) !== 43 /* + */) return undefined;
    const ids = s.slice(i + 1).split('.');
    for (const id of ids) if (!isIdentifier(id)) return undefined;
  }
  return { major: nums[0], minor: nums[1], patch: nums[2], pre };
}

function isIdentifier(id: string): boolean {
  if (id.length === 0) return false;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    if (!ok) return false;
  }
  return true;
}

function isDigits(id: string): boolean {
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Precedence: negative if a < b, 0 if equal (build metadata ignored), positive if a > b. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const ap = a.pre, bp = b.pre;
  if (ap.length === 0) return bp.length === 0 ? 0 : 1; // a release ranks above its pre-releases
  if (bp.length === 0) return -1;
  const m = Math.min(ap.length, bp.length);
  for (let k = 0; k < m; k++) {
    const x = ap[k], y = bp[k];
    if (x === y) continue;
    const xn = typeof x === 'number', yn = typeof y === 'number';
    if (xn && yn) return (x as number) < (y as number) ? -1 : 1;
    if (xn) return -1; // numeric identifiers rank below alphanumeric ones
    if (yn) return 1;
    return (x as string) < (y as string) ? -1 : 1;
  }
  return ap.length === bp.length ? 0 : ap.length < bp.length ? -1 : 1;
}
