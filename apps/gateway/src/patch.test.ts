import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch, MAX_PATCH_OPS } from './patch.js';
import { HttpProblem } from './problem.js';

describe('mergePatch (RFC 7396)', () => {
  it('replaces, adds and removes members recursively; arrays are replaced whole', () => {
    const target = { a: 1, b: { c: 2, d: 3 }, list: [1, 2] };
    expect(mergePatch(target, { a: 5, b: { c: null, e: 4 }, list: [9] })).toEqual({ a: 5, b: { d: 3, e: 4 }, list: [9] });
    expect(target).toEqual({ a: 1, b: { c: 2, d: 3 }, list: [1, 2] });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  const doc = { rules: [{ rollout: { weights: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] } }], tags: ['a'] };
  it('replace / add / remove / move / copy / test', () => {
    const out = jsonPatch(doc, [
      { op: 'test', path: '/rules/0/rollout/weights/0/variant', value: 'on' },
      { op: 'replace', path: '/rules/0/rollout/weights/0/weight', value: 50 },
      { op: 'add', path: '/tags/-', value: 'b' },
      { op: 'add', path: '/tags/0', value: 'z' },
      { op: 'copy', from: '/tags/1', path: '/owner' },
      { op: 'move', from: '/owner', path: '/description' },
      { op: 'remove', path: '/tags/2' },
    ]);
    expect(out).toEqual({ rules: [{ rollout: { weights: [{ variant: 'on', weight: 50 }, { variant: 'off', weight: 90 }] } }], tags: ['z', 'a'], description: 'a' });
    expect(doc.rules[0].rollout.weights[0].weight).toBe(10);
  });
  it('unescapes ~0 and ~1 in pointers', () => {
    expect(jsonPatch({ 'a/b': 1, 'c~d': 2 }, [{ op: 'replace', path: '/a~1b', value: 3 }, { op: 'remove', path: '/c~0d' }])).toEqual({ 'a/b': 3 });
  });
  it.each([
    [[{ op: 'replace', path: '/rules/5', value: 1 }], /patch\[0\]: no array element "5"/],
    [[{ op: 'remove', path: '/nope' }], /patch\[0\]: no member "nope"/],
    [[{ op: 'test', path: '/tags/0', value: 'x' }], /patch\[0\]: test failed/],
    [[{ op: 'jump', path: '/a' }], /patch\[0\]\.op/],
    [[{ op: 'add', path: 'tags' , value: 1 }], /not a JSON Pointer/],
    [[{ op: 'add', path: '/tags/1' }], /patch\[0\]\.value: required/],
    [[{ op: 'move', from: '/rules', path: '/rules/0/x' }], /into itself/],
    [{ op: 'add' }, /must be an array/],
    [Array.from({ length: MAX_PATCH_OPS + 1 }, () => ({ op: 'test', path: '', value: 1 })), /at most 100/],
  ])('rejects %j with a 422 naming the operation', (ops, message) => {
    try {
      jsonPatch(doc as never, ops);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HttpProblem);
      expect((err as HttpProblem).status).toBe(422);
      expect((err as HttpProblem).message).toMatch(message);
    }
  });
});
