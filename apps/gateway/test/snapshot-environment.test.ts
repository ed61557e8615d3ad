// ?environment= on the whole-configuration routes: GET /api/v1/snapshot and
// /api/v1/stream (one environment's flags and the shared segments, for the
// in-process provider of that environment) and flagd import/export;
// refusals name what was wrong.
import { createTokenStore, hashToken, type Role } from '@flagraft/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolFlag, NAMES, TOKENS, startMemoryStack, type MemoryStack } from './support/harness.js';

const STAGING_READER = 'tok-snap-st-reader-7d21';
const STAGING_EDITOR = 'tok-snap-st-editor-09c4';
let stack: MemoryStack;
let defaultEnv: string;
beforeAll(async () => {
  const entries = (Object.keys(TOKENS) as Role[]).map((role) => ({ name: NAMES[role], role, sha256: hashToken(TOKENS[role]) }));
  entries.push({ name: 'st-reader', role: 'reader', sha256: hashToken(STAGING_READER), environments: ['staging'] } as (typeof entries)[number]);
  entries.push({ name: 'st-editor', role: 'editor', sha256: hashToken(STAGING_EDITOR), environments: ['staging'] } as (typeof entries)[number]);
  stack = await startMemoryStack({ gateway: { tokens: createTokenStore(entries) } });
  expect((await stack.req('POST', '/api/v1/environments', { role: 'admin', body: { name: 'staging' } })).status).toBe(201);
  defaultEnv = (await stack.req('GET', '/api/v1/environments', { role: 'admin' })).json.defaultEnvironment;
  expect(defaultEnv).toBeTruthy();
  expect((await stack.req('PUT', '/api/v1/flags/s-env', { role: 'editor', body: boolFlag('s-env', { defaultVariant: 'off' }) })).status).toBe(201);
  expect((await stack.req('PUT', '/api/v1/flags/s-env?environment=staging', { role: 'editor', body: boolFlag('s-env', { defaultVariant: 'on' }) })).status).toBe(200);
  expect((await stack.req('PUT', '/api/v1/segments/s-seg', { role: 'editor', body: { conditions: [] } })).status).toBe(201);
});
afterAll(async () => {
  await stack?.stop();
});

/** Opens a stream, reads its status (and the first bytes when 200), closes it. */
async function streamStatus(query: string, token: string): Promise<{ status: number; body: string }> {
  const ac = new AbortController();
  const res = await fetch(`${stack.url}/api/v1/stream${query}`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  const body = res.status === 200 ? '' : await res.text();
  ac.abort();
  return { status: res.status, body };
}

describe('GET /api/v1/snapshot?environment=', () => {
  it('serves the named environment\'s flags and every segment, at one revision', async () => {
    const staging = await stack.req('GET', '/api/v1/snapshot?environment=staging&prefix=s-', { role: 'reader' });
    expect(staging.status).toBe(200);
    expect(staging.json.flags.map((f: any) => [f.flag.key, f.flag.defaultVariant])).toEqual([['s-env', 'on']]);
    expect(staging.json.segments.map((s: any) => s.segment.name)).toContain('s-seg');
    const dflt = await stack.req('GET', '/api/v1/snapshot?prefix=s-', { role: 'reader' });
    expect(dflt.json.flags.map((f: any) => [f.flag.key, f.flag.defaultVariant])).toEqual([['s-env', 'off']]);
    expect(staging.headers.get('etag')).toBe(`"${staging.json.revision}"`);
  });

  it('refuses a bad name (400), an unknown environment (404) and another environment\'s token (403), naming each', async () => {
    const bad = await stack.req('GET', '/api/v1/snapshot?environment=no%20such', { role: 'reader' });
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/^environment: /);
    const missing = await stack.req('GET', '/api/v1/snapshot?environment=qa', { role: 'reader' });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toBe('environment qa does not exist');
    const scoped = await stack.req('GET', '/api/v1/snapshot?environment=staging', { token: STAGING_READER });
    expect(scoped.status).toBe(200);
    for (const q of ['', `?environment=${defaultEnv}`]) {
      const other = await stack.req('GET', `/api/v1/snapshot${q}`, { token: STAGING_READER });
      expect(other.status, q).toBe(403);
      expect(other.json.detail).toContain(`may not act in environment ${defaultEnv}`);
    }
  });
});

describe('GET /api/v1/stream?environment=', () => {
  it('opens for the environment\'s token; refuses environments=all with it (400), an unknown one (404), another environment (403)', async () => {
    expect((await streamStatus('?environment=staging', STAGING_READER)).status).toBe(200);
    const both = await streamStatus('?environment=staging&environments=all', TOKENS.reader);
    expect(both.status).toBe(400);
    expect(both.body).toContain('environment and environments exclude each other');
    const missing = await streamStatus('?environment=qa', TOKENS.reader);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('environment qa does not exist');
    const other = await streamStatus(`?environment=${defaultEnv}`, STAGING_READER);
    expect(other.status).toBe(403);
    const kind = await streamStatus('?environment=staging&kind=schedule', TOKENS.reader);
    expect(kind.status).toBe(400);
  });

  it('carries the environment\'s flag changes and segment changes, not other environments\' changes', async () => {
    const start = (await stack.req('GET', '/api/v1/snapshot?environment=staging', { role: 'reader' })).json.revision as number;
    const ac = new AbortController();
    const res = await fetch(`${stack.url}/api/v1/stream?environment=staging&since=${start}`, { headers: { authorization: `Bearer ${TOKENS.reader}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    const w1 = await stack.req('PUT', '/api/v1/flags/s-env', { role: 'editor', body: boolFlag('s-env', { defaultVariant: 'off', enabled: false }) });
    const w2 = await stack.req('PUT', '/api/v1/flags/s-env?environment=staging', { role: 'editor', body: boolFlag('s-env', { defaultVariant: 'off' }) });
    const w3 = await stack.req('PUT', '/api/v1/segments/s-seg', { role: 'editor', body: { conditions: [{ attribute: 'plan', op: 'equals', value: 'pro' }] } });
    expect([w1.status, w2.status, w3.status]).toEqual([200, 200, 200]);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    const deadline = Date.now() + 5_000;
    while (!text.includes(`"revision":${w3.json.modRevision}`)) {
      if (Date.now() > deadline) throw new Error(`no segment event within 5 s; got ${text}`);
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    ac.abort();
    const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))).filter((e) => e.revision !== undefined && e.kind !== undefined);
    expect(events.map((e) => [e.kind, e.key, e.revision])).toEqual([['flag', 's-env', w2.json.modRevision], ['segment', 's-seg', w3.json.modRevision]]);
  });
});

describe('flagd import and export with ?environment=', () => {
  const doc = (variant: 'on' | 'off', extra: Record<string, unknown> = {}) => ({
    flags: { 'fd-env': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: variant } },
    ...extra,
  });

  it('imports into and exports from the named environment only', async () => {
    expect((await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: doc('off') })).status).toBe(200);
    const plan = await stack.req('POST', '/api/v1/flagd/import?environment=staging&dryRun=true', { token: STAGING_EDITOR, body: doc('on') });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.json.plan).toEqual([{ kind: 'flag', key: 'fd-env', action: 'update' }]);
    const done = await stack.req('POST', '/api/v1/flagd/import?environment=staging', { token: STAGING_EDITOR, body: doc('on') });
    expect(done.status, done.text).toBe(200);
    const staging = await stack.req('GET', '/api/v1/flagd/export?environment=staging&prefix=fd-', { token: STAGING_READER });
    expect(staging.json.document.flags['fd-env'].defaultVariant).toBe('on');
    const dflt = await stack.req('GET', '/api/v1/flagd/export?prefix=fd-', { role: 'reader' });
    expect(dflt.json.document.flags['fd-env'].defaultVariant, 'the default environment kept its configuration').toBe('off');
  });

  it('refuses a staging token a segment change (shared by every environment), another environment, an unknown one', async () => {
    const withSegment = {
      flags: { 'fd-env': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: { if: [{ $ref: 'fdStaffSeg' }, 'on', 'off'] } } },
      $evaluators: { fdStaffSeg: { ends_with: [{ var: 'email' }, '@corp.example'] } },
    };
    const seg = await stack.req('POST', '/api/v1/flagd/import?environment=staging&skipUnmappable=true', { token: STAGING_EDITOR, body: withSegment });
    expect(seg.status, seg.text).toBe(403);
    expect(seg.json.detail).toContain('segments are shared by every environment');
    const other = await stack.req('POST', '/api/v1/flagd/import', { token: STAGING_EDITOR, body: doc('on') });
    expect(other.status).toBe(403);
    expect(other.json.detail).toContain(`may not act in environment ${defaultEnv}`);
    for (const [m, path] of [['POST', '/api/v1/flagd/import?environment=qa'], ['GET', '/api/v1/flagd/export?environment=qa']] as const) {
      const r = await stack.req(m, path, { role: 'editor', body: m === 'POST' ? doc('on') : undefined });
      expect(r.status, path).toBe(404);
      expect(r.json.detail).toBe('environment qa does not exist');
    }
  });
});
