import { describe, expect, it } from 'vitest';
import { isServerFunction, serverFunction } from './server-functions';
import { validateEditorJson } from './validation';

describe('server functions: what a server$ call may run', () => {
  it('only functions marked with serverFunction()', () => {
    const marked = serverFunction(function () {
      return 1;
    });
    expect(isServerFunction(marked)).toBe(true);
    expect(isServerFunction(() => 1)).toBe(false);
    expect(isServerFunction({})).toBe(false);
    expect(isServerFunction(undefined)).toBe(false);
    expect(isServerFunction(validateEditorJson)).toBe(true);
  });

  it("the editor's validation answers any input with a list of problems, never a throw", () => {
    expect(validateEditorJson(JSON.stringify({ key: 'k', type: 'boolean', variants: { on: true }, defaultVariant: 'on', enabled: true, rules: [] }))).toEqual([]);
    for (const bad of [undefined, 1, '', '{', '[]', JSON.stringify({ key: '__proto__' }), '['.repeat(10_000) + ']'.repeat(10_000)]) {
      const issues = validateEditorJson(bad);
      expect(issues.length, String(bad).slice(0, 20)).toBeGreaterThan(0);
    }
  });
});
