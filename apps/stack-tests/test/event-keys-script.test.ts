// scripts/event-keys.mjs: the keys file npm start makes, and the rotation
// steps of docs/CONTRACTS.md, checked against the parser the services use.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventKeySet } from '@flagraft/auth';
import { repoRoot } from '../src/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'flagraft-event-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'scripts', 'event-keys.mjs'), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('scripts/event-keys.mjs', () => {
  it('init makes a 0600 file with one active key that nodes and relays accept, and never overwrites it', () => {
    const file = join(dir, 'init.json');
    const r = run('init', file);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const set = EventKeySet.load(file, { requireActive: true });
    expect(set.keyIds).toHaveLength(1);
    expect(r.stdout).toContain(set.activeKeyId);
    const again = run('init', file);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
  });

  it('rotation: add (accepted only), activate, retire; refuses to retire the active key or activate an unknown one; never prints a secret', () => {
    const file = join(dir, 'rotate.json');
    expect(run('init', file).status).toBe(0);
    const old = EventKeySet.load(file).activeKeyId!;
    const added = run('add', file, 'k-new');
    expect(added.status, added.stderr).toBe(0);
    let set = EventKeySet.load(file, { requireActive: true });
    expect(set.activeKeyId).toBe(old);
    expect(set.keyIds).toEqual([old, 'k-new']);
    expect(run('activate', file, 'k-missing').stderr).toMatch(/no key "k-missing"/);
    expect(run('activate', file, 'k-new').status).toBe(0);
    expect(EventKeySet.load(file).activeKeyId).toBe('k-new');
    expect(run('retire', file, 'k-new').stderr).toMatch(/is the active key/);
    expect(run('retire', file, old).status).toBe(0);
    set = EventKeySet.load(file, { requireActive: true });
    expect(set.keyIds).toEqual(['k-new']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const list = run('list', file);
    expect(list.stdout).toContain('k-new  (active: signs)');
    const secret = JSON.parse(readFileSync(file, 'utf8')).keys[0].secret as string;
    for (const r of [added, list]) expect(r.stdout + r.stderr).not.toContain(secret.slice(0, 12));
    expect(run('add', file, 'bad.id').stderr).toMatch(/key id "bad.id"/);
    expect(run('frobnicate', file).stderr).toMatch(/usage/);
  });
});
