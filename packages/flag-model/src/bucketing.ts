// flagd "fractional" v2 bucketing: hash = murmur3_x86_32(utf8(flagKey +
// bucketingValue), seed 0); bucket = (hash * W) >> 32 with W the sum of the
// integer weights; the first variant whose cumulative weight exceeds the
// bucket wins. Widening the first variant's weight never moves users out of it.
import { murmur3, murmur3Finish, murmur3Start, murmur3Update, type Murmur3State } from './murmur3.js';

const TWO_POW_32 = 4294967296;
/** Below this total, hash * total < 2^53, so float maths is exact. */
const EXACT_FLOAT_TOTAL = 2 ** 21;

/** The reference formula, in BigInt exactly as specified. */
export function bucketBigInt(hash: number, total: number): number {
  return Number((BigInt(hash >>> 0) * BigInt(total)) >> 32n);
}

/**
 * (hash * total) >> 32. For total <= 2^21 the product is below 2^53 and the
 * division by 2^32 is exact in floating point, so the result equals the
 * BigInt formula bit for bit (tested); BigInt is used above that.
 */
export function bucketOf(hash: number, total: number): number {
  if (total <= EXACT_FLOAT_TOTAL) return Math.floor((hash * total) / TWO_POW_32);
  return bucketBigInt(hash, total);
}

/** Index of the chosen entry for a bucket, given cumulative weight bounds. */
export function pickIndex(bucket: number, cumulative: readonly number[]): number {
  for (let i = 0; i < cumulative.length; i++) if (cumulative[i] > bucket) return i;
  return cumulative.length - 1; // unreachable when bucket < total
}

/** A rollout precompiled for one flag key: the key's hash prefix is computed once. */
export class Bucketer {
  private readonly prefix: Murmur3State;
  readonly cumulative: number[];
  readonly total: number;
  constructor(flagKey: string, weights: readonly number[]) {
    this.prefix = murmur3Update(murmur3Start(0), flagKey);
    let acc = 0;
    this.cumulative = weights.map((w) => (acc += w));
    this.total = acc;
  }
  /** Index into the weights for this bucketing value. */
  pick(value: string): number {
    return pickIndex(bucketOf(murmur3Finish(this.prefix, value), this.total), this.cumulative);
  }
}

/** One-shot form: index into `weights` for flagKey + value. */
export function fractionalIndex(flagKey: string, value: string, weights: readonly number[]): number {
  let total = 0;
  const cumulative = weights.map((w) => (total += w));
  return pickIndex(bucketOf(murmur3(flagKey + value), total), cumulative);
}
