// A linear-time regular expression matcher for the `matches` condition.
//
// JavaScript's RegExp backtracks: a pattern such as (a+)+$ takes exponential
// time on "aaaa...b", and a flag definition is user input evaluated on the
// gateway's hot path. So patterns are compiled here into a Thompson NFA and
// run as a lazily built DFA (no backtracking): time O(input length x program
// size) at worst, both bounded (LIMITS.maxRegexInputChars, MAX_PROGRAM), and
// one table lookup per code unit once the DFA states are cached. Only a
// boolean "is there a match anywhere" is computed, so no captures.
//
// Supported: literals and escaped metacharacters, `.`, [classes] with ranges
// and negation, \d \D \w \W \s \S \t \n \r \f \v \0 (also inside classes),
// ^ and $ (whole input), groups (...) and (?:...), |, and the quantifiers
// * + ? {n} {n,} {n,m} (lazy forms accepted; laziness does not change
// whether there is a match). Matching is on UTF-16 code units, like RegExp
// without the u flag. Rejected with a clear message: backreferences,
// lookaround, named groups, \b, flags. Those either cannot be matched in
// linear time or are rarely needed in targeting rules.
import { LIMITS } from './limits.js';

export interface SafeRegex {
  readonly source: string;
  test(input: string): boolean;
}

/** Instructions in a compiled program (after {n,m} expansion). */
export const MAX_PROGRAM = 400;
const MAX_REPEAT = 100;
const MAX_GROUP_DEPTH = 32;

type Node =
  | { t: 'char'; c: number }
  | { t: 'set'; ranges: number[]; neg: boolean }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }
  | { t: 'bol' } | { t: 'eol' };

class RegexSyntaxError extends Error {}

const DIGIT = [48, 57];
const WORD = [48, 57, 65, 90, 95, 95, 97, 122];
const SPACE = [9, 13, 32, 32, 160, 160, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff];
const NEWLINES = [10, 10, 13, 13, 0x2028, 0x2029];

function negate(ranges: number[]): number[] {
  const sorted: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) sorted.push([ranges[i], ranges[i + 1]]);
  sorted.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push(next, lo - 1);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0xffff) out.push(next, 0xffff);
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.s.length) throw new RegexSyntaxError(`unexpected "${this.s[this.i]}" at ${this.i}`);
    return n;
  }
  private alt(): Node {
    const items = [this.cat()];
    while (this.s[this.i] === '|') {
      this.i++;
      items.push(this.cat());
    }
    return items.length === 1 ? items[0] : { t: 'alt', items };
  }
  private cat(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') items.push(this.repeat());
    return items.length === 1 ? items[0] : { t: 'cat', items };
  }
  private repeat(): Node {
    const start = this.i;
    let node = this.atom();
    for (;;) {
      const c = this.s[this.i];
      let min: number, max: number;
      if (c === '*') [min, max] = [0, -1];
      else if (c === '+') [min, max] = [1, -1];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.s.slice(this.i))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i))!;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
        if (min > MAX_REPEAT || max > MAX_REPEAT) throw new RegexSyntaxError(`repetition count above ${MAX_REPEAT}`);
        if (max !== -1 && max < min) throw new RegexSyntaxError(`bad repetition {${min},${max}}`);
        this.i += m[0].length - 1;
      } else return node;
      this.i++;
      if (this.s[this.i] === '?') this.i++; // lazy: same match/no-match answer
      if (node.t === 'bol' || node.t === 'eol') throw new RegexSyntaxError(`nothing to repeat at ${start}`);
      node = { t: 'rep', node, min, max };
    }
  }
  private atom(): Node {
    const c = this.s[this.i];
    switch (c) {
      case '(': {
        if (++this.depth > MAX_GROUP_DEPTH) throw new RegexSyntaxError(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
        this.i++;
        if (this.s[this.i] === '?') {
          if (this.s[this.i + 1] !== ':') throw new RegexSyntaxError('lookaround and named groups are not supported');
          this.i += 2;
        }
        const n = this.alt();
        if (this.s[this.i] !== ')') throw new RegexSyntaxError('missing )');
        this.i++;
        this.depth--;
        return n;
      }
      case ')':
        throw new RegexSyntaxError(`unmatched ) at ${this.i}`);
      case '[':
        return this.cls();
      case '.':
        this.i++;
        return { t: 'set', ranges: NEWLINES, neg: true };
      case '^':
        this.i++;
        return { t: 'bol' };
      case '$':
        this.i++;
        return { t: 'eol' };
      case '*': case '+': case '?':
        throw new RegexSyntaxError(`nothing to repeat at ${this.i}`);
      case '\\': {
        this.i++;
        const e = this.escape(false);
        return typeof e === 'number' ? { t: 'char', c: e } : { t: 'set', ranges: e, neg: false };
      }
      default:
        this.i++;
        return { t: 'char', c: c.charCodeAt(0) };
    }
  }
  /** After a backslash: a code unit, or ranges for a class escape. */
  private escape(inClass: boolean): number | number[] {
    const c = this.s[this.i++];
    if (c === undefined) throw new RegexSyntaxError('pattern ends with \\');
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return negate(DIGIT);
      case 'w': return WORD;
      case 'W': return negate(WORD);
      case 's': return SPACE;
      case 'S': return negate(SPACE);
      case 't': return 9;
      case 'n': return 10;
      case 'r': return 13;
      case 'f': return 12;
      case 'v': return 11;
      case '0': return 0;
      case 'b':
        if (inClass) return 8;
        throw new RegexSyntaxError('\\b is not supported');
    }
    if (/[A-Za-z0-9]/.test(c)) throw new RegexSyntaxError(`\\${c} is not supported`);
    return c.charCodeAt(0);
  }
  private cls(): Node {
    this.i++; // [
    let neg = false;
    if (this.s[this.i] === '^') {
      neg = true;
      this.i++;
    }
    const ranges: number[] = []; // as in JS: [] matches nothing, [^] any code unit
    while (this.i < this.s.length && this.s[this.i] !== ']') {
      const lo = this.classAtom();
      if (this.s[this.i] === '-' && this.s[this.i + 1] !== ']' && this.i + 1 < this.s.length && typeof lo === 'number') {
        this.i++;
        const hi = this.classAtom();
        if (typeof hi !== 'number') throw new RegexSyntaxError('bad class range');
        if (hi < lo) throw new RegexSyntaxError('class range out of order');
        ranges.push(lo, hi);
      } else if (typeof lo === 'number') ranges.push(lo, lo);
      else ranges.push(...lo);
    }
    if (this.s[this.i] !== ']') throw new RegexSyntaxError('missing ]');
    this.i++;
    return { t: 'set', ranges, neg };
  }
  private classAtom(): number | number[] {
    const c = this.s[this.i++];
    if (c === '\\') return this.escape(true);
    return c.charCodeAt(0);
  }
}

// Program: parallel arrays. op: 0 char/set (ranges), 1 split, 2 jmp, 3 match, 4 bol, 5 eol.
const OP_SET = 0, OP_SPLIT = 1, OP_JMP = 2, OP_MATCH = 3, OP_BOL = 4, OP_EOL = 5;

class Compiler {
  op: number[] = [];
  x: number[] = [];
  y: number[] = [];
  sets: (Int32Array | null)[] = [];

  private emit(op: number, x = 0, y = 0, set: Int32Array | null = null): number {
    if (this.op.length >= MAX_PROGRAM) throw new RegexSyntaxError(`pattern too large (more than ${MAX_PROGRAM} instructions)`);
    this.op.push(op);
    this.x.push(x);
    this.y.push(y);
    this.sets.push(set);
    return this.op.length - 1;
  }
  gen(n: Node): void {
    switch (n.t) {
      case 'char':
        this.emit(OP_SET, 0, 0, Int32Array.of(n.c, n.c));
        return;
      case 'set':
        this.emit(OP_SET, 0, 0, Int32Array.from(n.neg ? negate(n.ranges) : n.ranges));
        return;
      case 'bol':
        this.emit(OP_BOL);
        return;
      case 'eol':
        this.emit(OP_EOL);
        return;
      case 'cat':
        for (const it of n.items) this.gen(it);
        return;
      case 'alt': {
        // split L1, next; L1: a; jmp end; next: split ... ; last
        const jumps: number[] = [];
        for (let k = 0; k < n.items.length - 1; k++) {
          const sp = this.emit(OP_SPLIT);
          this.x[sp] = this.op.length;
          this.gen(n.items[k]);
          jumps.push(this.emit(OP_JMP));
          this.y[sp] = this.op.length;
        }
        this.gen(n.items[n.items.length - 1]);
        for (const j of jumps) this.x[j] = this.op.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) this.gen(n.node);
        if (n.max === -1) {
          const sp = this.emit(OP_SPLIT);
          this.x[sp] = this.op.length;
          this.gen(n.node);
          const j = this.emit(OP_JMP);
          this.x[j] = sp;
          this.y[sp] = this.op.length;
        } else {
          const splits: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            const sp = this.emit(OP_SPLIT);
            this.x[sp] = this.op.length;
            splits.push(sp);
            this.gen(n.node);
          }
          for (const sp of splits) this.y[sp] = this.op.length;
        }
        return;
      }
    }
  }
  finish(): void {
    this.emit(OP_MATCH);
  }
}

/** A DFA state: a set of NFA threads (SET and EOL instructions), with cached transitions. */
interface DState {
  readonly pcs: Int32Array;
  /** The closure that built this state reached MATCH: the input matches. */
  readonly match: boolean;
  /** Next state id per ASCII code unit; -1 = not computed yet. */
  readonly next: Int32Array;
  /** Next state ids for other code units (at most MAX_OTHER_TRANSITIONS cached). */
  readonly other: Map<number, number>;
  /** Whether the input matches if it ends in this state: -1 unknown, 0 no, 1 yes. */
  endMatch: number;
}

/** DFA states cached per pattern; past it the cache is flushed (RE2's approach). */
const MAX_DFA_STATES = 256;
const MAX_OTHER_TRANSITIONS = 64;

/**
 * Lazy DFA over the Thompson NFA: each DFA state is the set of NFA threads
 * alive at a position, built on first use and cached, so matching costs one
 * table lookup per input code unit once warm. When a pattern would need more
 * than MAX_DFA_STATES states the cache is flushed and rebuilt as it goes,
 * which degrades to NFA simulation speed (O(program size) per code unit),
 * never to backtracking.
 */
class LazyDfaRegex implements SafeRegex {
  private readonly op: Int32Array;
  private readonly x: Int32Array;
  private readonly y: Int32Array;
  private readonly sets: (Int32Array | null)[];
  private readonly mark: Int32Array;
  private readonly stack: Int32Array;
  private readonly scratch: Int32Array;
  private gen = 0;
  /** Starts with ^ on every path: threads start only at position 0. */
  private readonly anchored: boolean;
  private states: DState[] = [];
  private index = new Map<string, number>();
  private start = -1;

  constructor(readonly source: string, c: Compiler) {
    this.op = Int32Array.from(c.op);
    this.x = Int32Array.from(c.x);
    this.y = Int32Array.from(c.y);
    this.sets = c.sets;
    const n = c.op.length;
    this.mark = new Int32Array(n);
    this.stack = new Int32Array(n * 2 + 2);
    this.scratch = new Int32Array(n);
    this.anchored = c.op[0] === OP_BOL;
  }

  /**
   * Epsilon closure of the seeds. Collects SET and (unless atEnd) EOL
   * instructions into scratch; returns [count, reachedMatch].
   */
  private closure(seeds: number[], atStart: boolean, atEnd: boolean): [number, boolean] {
    const { op, x, y, mark, stack, scratch } = this;
    const gen = ++this.gen;
    let count = 0;
    let matched = false;
    for (let s = seeds.length - 1; s >= 0; s--) {
      let sp = 0;
      stack[sp++] = seeds[s];
      while (sp > 0) {
        const pc = stack[--sp];
        if (mark[pc] === gen) continue;
        mark[pc] = gen;
        switch (op[pc]) {
          case OP_SET:
            scratch[count++] = pc;
            break;
          case OP_MATCH:
            matched = true;
            break;
          case OP_JMP:
            stack[sp++] = x[pc];
            break;
          case OP_SPLIT:
            stack[sp++] = y[pc];
            stack[sp++] = x[pc];
            break;
          case OP_BOL:
            if (atStart) stack[sp++] = pc + 1;
            break;
          case OP_EOL:
            if (atEnd) stack[sp++] = pc + 1;
            else scratch[count++] = pc;
            break;
        }
      }
    }
    return [count, matched];
  }

  private intern(seeds: number[], atStart: boolean): number {
    const [count, match] = this.closure(seeds, atStart, false);
    const pcs = this.scratch.slice(0, count).sort();
    const key = (match ? 'm' : '') + pcs.join(',');
    const known = this.index.get(key);
    if (known !== undefined) return known;
    if (this.states.length >= MAX_DFA_STATES) {
      this.states = [];
      this.index = new Map();
      this.start = -1;
    }
    const id = this.states.length;
    this.states.push({ pcs, match, next: new Int32Array(128).fill(-1), other: new Map(), endMatch: -1 });
    this.index.set(key, id);
    return id;
  }

  private step(s: DState, c: number): number {
    const seeds: number[] = [];
    for (const pc of s.pcs) {
      if (this.op[pc] !== OP_SET) continue;
      const set = this.sets[pc]!;
      for (let r = 0; r < set.length; r += 2) {
        if (c >= set[r] && c <= set[r + 1]) {
          seeds.push(pc + 1);
          break;
        }
      }
    }
    if (!this.anchored) seeds.push(0); // a new thread at every position
    const id = this.intern(seeds, false);
    if (c < 128) s.next[c] = id;
    else if (s.other.size < MAX_OTHER_TRANSITIONS) s.other.set(c, id);
    return id;
  }

  private matchesAtEnd(s: DState, atStart: boolean): boolean {
    if (s.endMatch >= 0 && !atStart) return s.endMatch === 1;
    const seeds: number[] = [];
    for (const pc of s.pcs) if (this.op[pc] === OP_EOL) seeds.push(pc);
    const m = seeds.length > 0 && this.closure(seeds, atStart, true)[1];
    if (!atStart) s.endMatch = m ? 1 : 0;
    return m;
  }

  test(input: string): boolean {
    if (this.start < 0) this.start = this.intern([0], true);
    let s = this.states[this.start];
    if (s.match) return true;
    const len = input.length;
    for (let pos = 0; pos < len; pos++) {
      const c = input.charCodeAt(pos);
      let id = c < 128 ? s.next[c] : s.other.get(c) ?? -1;
      if (id < 0) id = this.step(s, c);
      s = this.states[id];
      if (s.match) return true;
      if (s.pcs.length === 0) return false; // dead: no thread left and none can start
    }
    return this.matchesAtEnd(s, len === 0);
  }
}

/** Compiles a pattern; returns the matcher, or a message saying why the pattern is refused. */
export function compileSafeRegex(pattern: string): SafeRegex | string {
  if (typeof pattern !== 'string') return 'pattern must be a string';
  if (pattern.length > LIMITS.maxRegexChars) return `pattern longer than ${LIMITS.maxRegexChars} characters`;
  try {
    const ast = new Parser(pattern).parse();
    const c = new Compiler();
    c.gen(ast);
    c.finish();
    return new LazyDfaRegex(pattern, c);
  } catch (e) {
    if (e instanceof RegexSyntaxError) return `unsupported or invalid pattern: ${e.message}`;
    return `unsupported or invalid pattern: ${e instanceof Error ? e.message : String(e)}`;
  }
}
