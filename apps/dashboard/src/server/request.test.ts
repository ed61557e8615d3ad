import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NEXT, issuesOf, MAX_NEXT_CHARS, MAX_PROBLEM_ISSUES, safeNext } from './request';

const ORIGIN = 'https://flags.example';

describe('safeNext: where sign-in may send you', () => {
  it('follows same-origin paths, with query and fragment', () => {
    expect(safeNext('/segments?x=1', ORIGIN)).toBe('/segments?x=1');
    expect(safeNext('/flags/constructor/history#top', ORIGIN)).toBe('/flags/constructor/history#top');
    expect(safeNext('/flags/a b', ORIGIN)).toBe('/flags/a%20b'); // serialised: safe in a Location header
    expect(safeNext('/flags/../segments', ORIGIN)).toBe('/segments');
  });

  it('refuses everything that leaves the origin or cannot go into a header', () => {
    const refused = [
      undefined, null, '', 'flags', 'https://evil.example/', 'http:evil.example', '//evil.example', '///evil.example', '/\\evil.example',
      '\\\\evil.example', '/\t/127.0.0.1:9999/pwned', '/\n/evil.example', '/\r\n/x', '/\u0000x', '/\u007fx', ' //evil.example',
      'javascript:alert(1)', '/' + 'a'.repeat(MAX_NEXT_CHARS), '/%2F%2Fevil.example/..//x',
    ];
    for (const n of refused) expect(safeNext(n as string | null | undefined, ORIGIN), JSON.stringify(n)).toBe(DEFAULT_NEXT);
  });

  it('for any input: a path on our origin, no control characters, never protocol-relative', () => {
    const nasty = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.tuple(fc.constantFrom('/', '//', '/\\', '/.', '/..', '/%2f', '/\t', '\\'), fc.string({ maxLength: 20 })).map(([a, b]) => a + b),
      fc.webUrl().map((u) => u.replace(/^https?:/, '')),
    );
    fc.assert(
      fc.property(nasty, (n) => {
        const out = safeNext(n, ORIGIN);
        expect(out.startsWith('/') && !out.startsWith('//')).toBe(true);
        // eslint-disable-next-line no-control-regex
        expect(/[\u0000-\u001f\u007f\\]/.test(out)).toBe(false);
        expect(new URL(out, ORIGIN).origin).toBe(ORIGIN);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('issuesOf: problems of a gateway answer', () => {
  it('reads `errors` (JSON Pointer or flag-model paths) and the older `issues`, skipping junk', () => {
    expect(issuesOf({ errors: [{ pointer: '/rules/1/variant', detail: 'unknown variant' }, { path: 'key', message: 'bad' }, 7, null, { path: 1 }] })).toEqual([
      { path: 'rules[1].variant', message: 'unknown variant' },
      { path: 'key', message: 'bad' },
    ]);
    expect(issuesOf({ issues: [{ path: 'variants.on', message: 'x' }] })).toEqual([{ path: 'variants.on', message: 'x' }]);
    expect(issuesOf({ detail: 'no list' })).toBeUndefined();
    expect(issuesOf({ errors: 'not a list' })).toBeUndefined();
  });

  it(`keeps at most MAX_PROBLEM_ISSUES (${MAX_PROBLEM_ISSUES}), and bounds each text`, () => {
    const many = Array.from({ length: MAX_PROBLEM_ISSUES + 50 }, (_, i) => ({ path: `p${i}`, message: 'm'.repeat(5000) }));
    const out = issuesOf({ errors: many })!;
    expect(out).toHaveLength(MAX_PROBLEM_ISSUES);
    expect(out[0].message.length).toBe(1000);
  });
});
