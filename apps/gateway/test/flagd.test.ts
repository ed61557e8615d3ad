// flagd import / export through the gateway against a real cluster: dry run,
// apply, re-import unchanged, refusals with JSON paths, and the exported
// document evaluated by flagd's own engine answering as OFREP does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagdCore } from '@openfeature/flagd-core';
import { runCli } from '@flagraft/cli';
import { startMemoryStack, TOKENS, type MemoryStack } from './support/harness.js';

let stack: MemoryStack;
beforeAll(async () => {
  stack = await startMemoryStack({ gateway: { maxFlagdImportBodyBytes: 64 * 1024 } });
});
afterAll(async () => {
  await stack?.stop();
});

const doc = {
  flags: {
    'fd-checkout': {
      state: 'ENABLED', variants: { red: 'r', green: 'g', blue: 'b' }, defaultVariant: 'red',
      targeting: { if: [{ $ref: 'fdStaff' }, 'blue', { in: [{ var: 'country' }, ['DE', 'FR']] }, { fractional: [['red', 50], ['green', 50]] }, null] },
      metadata: { team: 'pay' },
    },
    'fd-dark': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: { if: [{ '<': [{ var: 'age' }, 30] }, 'on', 'off'] } },
  },
  $evaluators: { fdStaff: { ends_with: [{ var: 'email' }, '@corp.example'] } },
};

describe('flagd import', () => {
  it('dry run shows the plan and writes nothing; the import writes it; a second import is unchanged', async () => {
    const dry = await stack.req('POST', '/api/v1/flagd/import?dryRun=true', { role: 'editor', body: doc });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.json.plan).toEqual([
      { kind: 'segment', key: 'fdStaff', action: 'create' },
      { kind: 'flag', key: 'fd-checkout', action: 'create' },
      { kind: 'flag', key: 'fd-dark', action: 'create' },
    ]);
    expect(dry.json.counts).toEqual({ create: 3, update: 0, unchanged: 0, unmappable: 0 });
    expect((await stack.req('GET', '/api/v1/flags/fd-dark', { role: 'reader' })).status).toBe(404);

    const done = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: doc });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({ dryRun: false, batches: 1 });
    const f = await stack.req('GET', '/api/v1/flags/fd-checkout', { role: 'reader' });
    expect(f.json.flag.rules[0]).toEqual({ conditions: [], segments: ['fdStaff'], variant: 'blue' });
    expect(f.json.updatedBy).toBe('ed');

    // Descriptive fields set in flagraft survive a re-import (flagd has none).
    await stack.req('PATCH', '/api/v1/flags/fd-dark', { role: 'editor', body: { description: 'kept' } });
    const again = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: doc });
    expect(again.json.counts).toEqual({ create: 0, update: 0, unchanged: 3, unmappable: 0 });
    expect(again.json.batches).toBe(0);
    const changed = structuredClone(doc);
    changed.flags['fd-dark'].defaultVariant = 'on';
    const upd = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: changed });
    expect(upd.json.plan.find((p: any) => p.key === 'fd-dark').action).toBe('update');
    expect((await stack.req('GET', '/api/v1/flags/fd-dark', { role: 'reader' })).json.flag).toMatchObject({ defaultVariant: 'on', description: 'kept' });
  });

  it('unmappable flags: 422 with their JSON paths and nothing written; skipUnmappable imports the rest', async () => {
    const bad = { flags: { 'fd-ok': { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a' }, 'fd-time': { state: 'ENABLED', variants: { a: 'a', b: 'b' }, defaultVariant: 'a', targeting: { if: [{ '>': [{ var: '$flagd.timestamp' }, 1] }, 'b', 'a'] } } } };
    const r = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: bad });
    expect(r.status).toBe(422);
    expect(r.json.issues).toEqual([{ path: 'flags.fd-time.targeting.if[0].>[0]', severity: 'error', message: expect.stringMatching(/timestamp.*not imported/) }]);
    expect(r.json.plan).toEqual([{ kind: 'flag', key: 'fd-ok', action: 'create' }]);
    expect((await stack.req('GET', '/api/v1/flags/fd-ok', { role: 'reader' })).status).toBe(404);
    const partial = await stack.req('POST', '/api/v1/flagd/import?skipUnmappable=true', { role: 'editor', body: bad });
    expect(partial.status).toBe(200);
    expect(partial.json.counts).toEqual({ create: 1, update: 0, unchanged: 0, unmappable: 1 });
    expect((await stack.req('GET', '/api/v1/flags/fd-ok', { role: 'reader' })).status).toBe(200);
  });

  it('refusals: no token (before the body), reader role, not JSON, too large, bad query', async () => {
    expect((await stack.req('POST', '/api/v1/flagd/import', { body: doc })).status).toBe(401);
    expect((await stack.req('POST', '/api/v1/flagd/import', { role: 'reader', body: doc })).status).toBe(403);
    expect((await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', rawBody: 'flags: {}', headers: { 'content-type': 'text/yaml' } })).status).toBe(415);
    expect((await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', rawBody: '{"flags":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    const big = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: { flags: {}, pad: 'x'.repeat(70 * 1024) } });
    expect(big.status).toBe(413);
    expect((await stack.req('POST', '/api/v1/flagd/import?dryRun=maybe', { role: 'editor', body: doc })).status).toBe(400);
    const notDoc = await stack.req('POST', '/api/v1/flagd/import', { role: 'editor', body: [1, 2] });
    expect(notDoc.status).toBe(422);
    expect(notDoc.json.issues[0]).toMatchObject({ path: '', severity: 'error' });
  });
});

describe('flagd export', () => {
  it('the exported document, run by flagd-core, answers as the gateway\'s OFREP for every flag and context', async () => {
    const r = await stack.req('GET', '/api/v1/flagd/export?prefix=fd-', { role: 'reader' });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json.document.flags).sort()).toEqual(['fd-checkout', 'fd-dark', 'fd-ok']);
    expect(Object.keys(r.json.document.$evaluators)).toEqual(['fdStaff']);
    const core = new FlagdCore(undefined, { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} });
    core.setConfigurations(JSON.stringify(r.json.document));
    const contexts: Record<string, string | number>[] = [{}, { targetingKey: 'u1', country: 'DE' }, { targetingKey: 'u2', country: 'FR', age: 40 }, { email: 'a@corp.example', age: 12 }, { targetingKey: 'u3', country: 'US', age: 30 }];
    for (const context of contexts) {
      const ofrep = await stack.req('POST', '/ofrep/v1/evaluate/flags', { role: 'evaluator', body: { context } });
      for (const key of ['fd-checkout', 'fd-dark']) {
        const item = ofrep.json.flags.find((f: any) => f.key === key);
        const got = key === 'fd-dark' ? core.resolveBooleanEvaluation(key, false, context) : core.resolveStringEvaluation(key, '', context);
        expect({ value: got.value, variant: got.variant }, `${key} ${JSON.stringify(context)}`).toEqual({ value: item.value, variant: item.variant });
      }
    }
    expect((await stack.req('GET', '/api/v1/flagd/export', { role: 'evaluator' })).status).toBe(403);
  });
});

describe('the CLI: flagraft import flagd / export flagd', () => {
  it('dry run, import, export to a file; exit codes; issues on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flagd-cli-'));
    const run = async (args: string[], token = TOKENS.editor) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(args, { env: { FLAGRAFT_URL: stack.url, FLAGRAFT_TOKEN: token }, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
      return { code, out: out.join(''), err: err.join('') };
    };
    try {
      const file = join(dir, 'in.json');
      writeFileSync(file, JSON.stringify({ flags: { 'cli-a': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' }, 'cli-bad': { state: 'ENABLED', variants: { a: 'a' }, defaultVariant: 'a', targeting: { if: [{ '<': [{ var: 'name' }, 'm'] }, 'a', null] } } } }));
      const dry = await run(['import', 'flagd', file, '--dry-run']);
      expect(dry.code, dry.err).toBe(0);
      expect(dry.out).toMatch(/create\s+flag\s+cli-a/);
      expect(dry.out).toContain('dry run, nothing written: 1 to create');
      expect(dry.out).toContain('not mapped: flags.cli-bad.targeting.if[0].<');
      const refused = await run(['import', 'flagd', file]);
      expect(refused.code).toBe(6);
      expect(refused.err).toContain('flags.cli-bad.targeting.if[0].<');
      const done = await run(['import', 'flagd', file, '--skip-unmappable']);
      expect(done.code, done.err).toBe(0);
      expect(done.out).toMatch(/imported at revision \d+: 1 to create/);
      const reader = await run(['import', 'flagd', file], TOKENS.reader);
      expect(reader.code).toBe(3);
      const outFile = join(dir, 'out.json');
      const ex = await run(['export', 'flagd', '--prefix', 'cli-', '--out', outFile], TOKENS.reader);
      expect(ex.code, ex.err).toBe(0);
      expect(JSON.parse(readFileSync(outFile, 'utf8')).flags['cli-a']).toEqual({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' });
      const toStdout = await run(['export', 'flagd', '--prefix', 'cli-'], TOKENS.reader);
      expect(JSON.parse(toStdout.out).flags).toHaveProperty('cli-a');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

