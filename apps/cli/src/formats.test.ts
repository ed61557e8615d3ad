// The pure parts of the environment commands: times, rollout steps, diffs.
import { afterEach, describe, expect, it } from 'vitest';
import { jsonDiff } from './diff.js';
import { parseRolloutSteps, rolloutVariants } from './schedules.js';
import { parseTime, showTime } from './times.js';

const savedTz = process.env.TZ;
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

describe('times', () => {
  it('reads RFC 3339 with a zone only, naming what was wrong', () => {
    expect(parseTime('2026-12-08T10:00Z', '--at')).toBe(Date.UTC(2026, 11, 8, 10));
    expect(parseTime('2026-12-08T11:30:15.5+01:00', '--at')).toBe(Date.UTC(2026, 11, 8, 10, 30, 15, 500));
    expect(() => parseTime('2026-12-08T10:00', '--at')).toThrow('--at must be an RFC 3339 time with its zone');
    expect(() => parseTime('2026-12-08', '--at')).toThrow('--at must be');
    expect(() => parseTime('2026-13-40T10:00Z', 'step 2')).toThrow('step 2 must be');
  });

  it('shows local time (TZ) with UTC beside', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(showTime(Date.UTC(2026, 11, 8, 10))).toBe('2026-12-08 15:30:00 +05:30 (2026-12-08T10:00:00Z)');
    process.env.TZ = 'America/New_York';
    expect(showTime(Date.UTC(2026, 11, 8, 10))).toBe('2026-12-08 05:00:00 -05:00 (2026-12-08T10:00:00Z)');
    expect(showTime(undefined)).toBe('-');
  });
});

describe('rollout steps', () => {
  it('parses percent@time lists in time order', () => {
    expect(parseRolloutSteps('5%@2026-12-08T10:00Z, 25%@2026-12-08T12:00+01:00,100@2026-12-09T10:00Z')).toEqual([
      { percent: 5, at: Date.UTC(2026, 11, 8, 10) }, { percent: 25, at: Date.UTC(2026, 11, 8, 11) }, { percent: 100, at: Date.UTC(2026, 11, 9, 10) },
    ]);
    expect(parseRolloutSteps('0.25%@2026-12-08T10:00Z')[0].percent).toBe(0.25);
    expect(() => parseRolloutSteps('5%')).toThrow('step 1 "5%" must be <percent 0-100>%@');
    expect(() => parseRolloutSteps('101%@2026-12-08T10:00Z')).toThrow('must be <percent 0-100>%@');
    expect(() => parseRolloutSteps('5%@tomorrow')).toThrow("step 1's time must be an RFC 3339 time");
    expect(() => parseRolloutSteps(Array(21).fill('1%@2026-12-08T10:00Z').join(','))).toThrow('1 to 20 steps');
  });

  it('picks the variant that gets the percentage and the one that gets the rest', () => {
    const bool = { key: 'b', type: 'boolean', variants: { yes: true, no: false }, defaultVariant: 'yes', enabled: true, rules: [] } as never;
    expect(rolloutVariants(bool, undefined)).toEqual({ target: 'yes', rest: 'no' });
    const str = { key: 's', type: 'string', variants: { red: 'r', green: 'g', blue: 'b' }, defaultVariant: 'red', enabled: true, rules: [] } as never;
    expect(() => rolloutVariants(str, undefined)).toThrow('--variant is needed');
    expect(rolloutVariants(str, 'green')).toEqual({ target: 'green', rest: 'red' });
    expect(() => rolloutVariants(str, 'pink')).toThrow('has no variant "pink"');
    expect(() => rolloutVariants(str, 'red')).toThrow('cannot tell which variant gets the rest');
  });
});

describe('diffs', () => {
  it('one line per differing leaf, arrays by index, absent as (none)', () => {
    expect(jsonDiff({ enabled: false, rules: [{ variant: 'a' }], d: 1 }, { enabled: true, rules: [{ variant: 'a' }, { variant: 'b' }], d: 1 })).toEqual([
      'enabled: false -> true',
      'rules[1]: (none) -> {"variant":"b"}',
    ]);
    expect(jsonDiff({ a: 1 }, { a: 1 })).toEqual([]);
    const cut = jsonDiff({ o: { x: 'long'.repeat(50) } }, {})[0];
    expect(cut).toMatch(/^o: \{"x":"(long)+.*… -> \(none\)$/);
    expect(cut.length).toBe('o: '.length + 120 + ' -> (none)'.length);
  });
});
