// Times of schedules: read as RFC 3339 with an explicit zone (a time without
// one would mean the zone of whichever machine reads it), shown in the local
// zone of the person at the terminal (TZ) with UTC beside it, so that what a
// team pastes into a ticket is unambiguous.
import { usageError } from './errors.js';

/** RFC 3339 date-time with its offset (Z or ±hh:mm); seconds optional, as the gateway accepts. */
export const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/i;
/** Latest time accepted: the gateway refuses later ones (a typo like 20260 is not "for ever"). */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** ms since the epoch of an RFC 3339 time; a usage error naming `what` (an option, a step) otherwise. */
export function parseTime(value: string, what: string): number {
  const ms = RFC3339.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw usageError(`${what} must be an RFC 3339 time with its zone, e.g. 2026-12-08T10:00Z or 2026-12-08T11:00+01:00; got ${JSON.stringify(value)}`);
  }
  if (ms < 0 || ms > MAX_TIME_MS) throw usageError(`${what} must be between 1970 and 9999, got ${JSON.stringify(value)}`);
  return ms;
}

const two = (n: number) => String(n).padStart(2, '0');

/** `2026-12-08 11:00:00 +01:00 (2026-12-08T10:00:00Z)`: local time (TZ) with UTC beside. */
export function showTime(ms: number | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${two(Math.floor(Math.abs(off) / 60))}:${two(Math.abs(off) % 60)}`;
  const local = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
  return `${local} (${d.toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
}
