import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { userKey } from './jsx-key';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

function tsxFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsxFiles(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : [],
  );
}

describe('userKey', () => {
  it('never names an Object.prototype member, whatever the user data', () => {
    expect(PROTOTYPE_NAMES).toContain('constructor');
    for (const n of [...PROTOTYPE_NAMES, '', 'k:', 'toString']) {
      const map: Record<string, number> = {}; // what Qwik's keyed diff uses
      expect(map[userKey(n)]).toBeUndefined();
    }
  });

  it('keeps different parts apart', () => {
    expect(userKey('a b', 'c')).not.toBe(userKey('a', 'b c'));
    expect(userKey('rules[0]', 'x')).toBe(userKey('rules[0]', 'x'));
    expect(userKey(3)).toBe(userKey('3'));
  });

  // The guard for the whole class: a JSX key is a loop index or goes through userKey().
  it('every key= in the dashboard components and routes is a loop index or userKey(...)', () => {
    const bad: string[] = [];
    for (const file of tsxFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?<![\w-])key=\{([^}]*)\}/g)) {
        const expr = m[1].trim();
        // router-head: the routes' own <meta> keys (constants in our code, possibly undefined).
        const ok = /^[ij]$/.test(expr) || expr.startsWith('userKey(') || (file.endsWith('router-head.tsx') && expr === 'm.key');
        if (!ok) bad.push(`${file.slice(SRC.length)}: key={${expr}}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
