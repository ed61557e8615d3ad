// parseLimitedJson parses first and walks once; every refusal must be the
// answer the text-scan-first order gave: depth (422) before malformed (400),
// then every shape violation by path.
import { describe, expect, it } from 'vitest';
import { parseLimitedJson } from './body.js';
import { HttpProblem } from './problem.js';

function problemOf(text: string, limits = {}): HttpProblem {
  try {
    parseLimitedJson(text, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpProblem);
    return e as HttpProblem;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

describe('parseLimitedJson', () => {
  it('accepts JSON within the limits as JSON.parse reads it', () => {
    const v = { key: 'f', variants: { on: true }, rules: [{ conditions: [] }], n: 2 ** 40 };
    expect(parseLimitedJson(JSON.stringify(v))).toEqual(v);
  });

  it('too deep: 422 maxJsonDepth, whether or not the text is also malformed', () => {
    for (const text of ['['.repeat(70) + ']'.repeat(70), '['.repeat(70), '{"a":' + '['.repeat(100_000)]) {
      const p = problemOf(text);
      expect(p.status, text.slice(0, 20)).toBe(422);
      expect(p.message).toMatch(/maxJsonDepth = 64/);
    }
  });

  it('malformed but shallow: 400 naming JSON', () => {
    const p = problemOf('{"a": tru}');
    expect(p.status).toBe(400);
    expect(p.message).toMatch(/^the body is not valid JSON: /);
  });

  it('shape limits: 422 listing every violation with its path; overrides apply', () => {
    const p = problemOf(JSON.stringify({ a: 'x'.repeat(70_000), c: 'y'.repeat(70_000) }));
    expect(p.status).toBe(422);
    const issues = (p.extensions as { issues: { path: string; limit: string }[] }).issues;
    expect(issues.map((i) => [i.path, i.limit])).toEqual([['a', 'maxJsonStringChars'], ['c', 'maxJsonStringChars']]);
    const q = problemOf(JSON.stringify({ list: [1, 2, 3, 4] }), { maxJsonArrayItems: 3 });
    expect(q.status).toBe(422);
    expect(q.message).toMatch(/^list: has 4 items, more than 3/);
    expect(parseLimitedJson(JSON.stringify({ list: [1, 2, 3] }), { maxJsonArrayItems: 3 })).toEqual({ list: [1, 2, 3] });
    const deep = problemOf('[[[[1]]]]', { maxJsonDepth: 3 });
    expect(deep.message).toMatch(/maxJsonDepth = 3/);
  });
});
