import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from './event.js';
import { BadSubscription, ForbiddenSubscription, eventEnvironment, parseEnvRequest, parseKinds, resolveScope, scopeMatches } from './scope.js';

const head = { v: 1 as const, revision: 5, op: 'put' as const, actor: 'a', time: new Date(0).toISOString() };
const flagIn = (env?: string) => ({ ...head, kind: 'flag', key: 'f', flag: {}, ...(env ? { env } : {}) }) as unknown as ChangeEvent;
const segment = { ...head, kind: 'segment', key: 's', segment: {} } as unknown as ChangeEvent;
const environment = (name: string) => ({ ...head, kind: 'environment', key: name, environment: { environment: { name }, isDefault: false } }) as unknown as ChangeEvent;
const cr = (env: string) => ({ ...head, kind: 'changeRequest', key: 'cr-1', changeRequest: { changeRequest: { id: 'cr-1', env } } }) as unknown as ChangeEvent;
const truncatedSchedule = (env?: string) => ({ ...head, kind: 'schedule', key: 'sch-1', truncated: true, part: 0, parts: 1, prevRevision: 4, ...(env ? { env } : {}) }) as unknown as ChangeEvent;
const anyone = { name: 'rita', role: 'reader' as const };
const stagingOnly = { name: 'stan', role: 'reader' as const, environments: ['staging'] };

describe('subscription scope', () => {
  it('parses environments and kinds, refusing bad ones by name', () => {
    expect(parseEnvRequest(undefined, 'environments')).toBeUndefined();
    expect(parseEnvRequest('all', 'environments')).toBe('all');
    expect([...(parseEnvRequest('staging,dev', 'environments') as Set<string>)]).toEqual(['staging', 'dev']);
    expect([...(parseEnvRequest(['dev'], 'environments') as Set<string>)]).toEqual(['dev']);
    expect(() => parseEnvRequest('a/b', 'environments')).toThrow(/environments: each must be an environment name/);
    expect(() => parseEnvRequest(Array(33).fill('x'), 'environments')).toThrow(BadSubscription);
    expect([...parseKinds('flag,changeRequest', 'kinds')!]).toEqual(['flag', 'changeRequest']);
    expect(() => parseKinds('flags', 'kinds')).toThrow(/kinds: each must be one of flag, segment, environment, changeRequest, schedule/);
  });

  it('an unrestricted token may have anything; a restricted one only its environments, never the old (default) stream', () => {
    expect(resolveScope(anyone, undefined, undefined, 'production')).toBeUndefined();
    expect(resolveScope(anyone, 'all', undefined, 'production')).toBe('all');
    expect([...(resolveScope(stagingOnly, 'all', undefined, 'production') as Set<string>)]).toEqual(['staging']);
    expect(() => resolveScope(stagingOnly, undefined, undefined, 'production')).toThrow(ForbiddenSubscription);
    expect(() => resolveScope(stagingOnly, new Set(['production']), undefined, 'production')).toThrow(/may not read environment production/);
    // A token limited to the default environment keeps the old stream.
    expect(resolveScope({ ...anyone, environments: ['production'] }, undefined, undefined, 'production')).toBeUndefined();
    expect(() => resolveScope(anyone, undefined, new Set(['schedule']), 'production')).toThrow(/schedule need environments/);
  });

  it('routes every kind to its environment', () => {
    expect(eventEnvironment(flagIn(), 'production')).toBe('production');
    expect(eventEnvironment(flagIn('staging'), 'production')).toBe('staging');
    expect(eventEnvironment(segment, 'production')).toBeNull();
    expect(eventEnvironment(environment('dev'), 'production')).toBe('dev');
    expect(eventEnvironment(cr('secure'), 'production')).toBe('secure');
    expect(eventEnvironment(truncatedSchedule('dev'), 'production')).toBe('dev');
    expect(eventEnvironment(truncatedSchedule(), 'production')).toBeUndefined();
  });

  it('the old stream is default-environment flags and segments; a scope gets its environments and the shared segments', () => {
    const all = [flagIn(), flagIn('staging'), segment, environment('staging'), cr('secure'), truncatedSchedule()];
    const pick = (scope: Parameters<typeof scopeMatches>[0], kinds?: Set<any>) => all.map((e) => scopeMatches(scope, kinds, e, 'production'));
    expect(pick(undefined)).toEqual([true, false, true, false, false, false]);
    expect(pick('all')).toEqual([true, true, true, true, true, true]);
    expect(pick(new Set(['staging']))).toEqual([false, true, true, true, false, false]);
    expect(pick(new Set(['production', 'secure']))).toEqual([true, false, true, false, true, false]);
    expect(pick('all', new Set(['changeRequest']))).toEqual([false, false, false, false, true, false]);
  });
});
