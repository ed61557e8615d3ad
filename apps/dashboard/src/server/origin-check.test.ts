import { describe, expect, it } from 'vitest';
import { crossOriginProblem } from './origin-check';

const OURS = 'https://flags.example:8443';

describe('Origin check on state-changing requests', () => {
  it('lets reads through whatever their Origin', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) expect(crossOriginProblem(m, 'https://evil.example', OURS)).toBeUndefined();
  });
  it('lets our own Origin change things', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(crossOriginProblem(m, OURS, OURS)).toBeUndefined();
  });
  it('refuses another origin, a missing one, "null", and near misses, naming both', () => {
    for (const origin of ['https://evil.example', null, 'null', 'https://flags.example', 'http://flags.example:8443', `${OURS}/`, `${OURS}.evil.example`, 'HTTPS://FLAGS.EXAMPLE:8443']) {
      const p = crossOriginProblem('POST', origin, OURS);
      expect(p, String(origin)).toContain(OURS);
      expect(p).toContain(origin === null ? '(none)' : JSON.stringify(origin));
    }
  });
  it('is not fooled by lower-case methods (they are not the safe methods)', () => {
    expect(crossOriginProblem('get', 'https://evil.example', OURS)).toBeDefined();
  });
});
