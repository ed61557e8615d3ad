// `flagraft env / flags --env / promote / cr / schedule` against a real
// gateway over testkit's in-memory cluster: the commands an operator runs,
// their output, their exit codes and their refusals.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/index.js';
import { startCliStack, waitFor, type CliStack } from './support/stack.js';

let stack: CliStack;
const dir = mkdtempSync(join(tmpdir(), 'flagraft-cli-envs-'));
/** Writes a JSON file in the test's folder; returns its path. */
function file(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}
const boolFlag = (key: string, extra: Record<string, unknown> = {}) =>
  ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra });
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  stack = await startCliStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('environments and flags per environment', () => {
  it('env create / list / get, and flags set, get, list in staging without touching production', async () => {
    let r = await stack.cli('admin', ['env', 'create', 'staging', '--display-name', 'Staging']);
    expect(r.err).toBe('');
    expect(r.code).toBe(ExitCode.OK);
    expect(r.out).toMatch(/^created environment staging at revision \d+/);
    r = await stack.cli('admin', ['env', 'create', 'staging']);
    expect(r.code).toBe(ExitCode.CONFLICT);

    r = await stack.cli('reader', ['env', 'list']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.out).toMatch(/^NAME\s+DISPLAY NAME\s+DEFAULT\s+PRODUCTION\s+POLICY/);
    expect(r.out).toMatch(/\nproduction\s+-\s+yes\s+yes\s+direct writes/);
    expect(r.out).toMatch(/\nstaging\s+Staging\s+-\s+-\s+direct writes/);
    expect(r.out).toContain('flag commands without --env act on production');
    r = await stack.cli('reader', ['env', 'list', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ defaultEnvironment: 'production', environments: expect.arrayContaining([expect.objectContaining({ environment: { name: 'staging', displayName: 'Staging' } })]) });

    r = await stack.cli('editor', ['flags', 'set', 'checkout', '--file', file('checkout.json', boolFlag('checkout', { enabled: false }))]);
    expect(r.err).toBe('');
    r = await stack.cli('editor', ['flags', 'set', 'checkout', '--enable', '--env', 'staging']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^set checkout in staging at revision \d+/);
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'staging', '--json']);
    expect(JSON.parse(r.out).flag).toMatchObject({ key: 'checkout', enabled: true });
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--json']);
    expect(JSON.parse(r.out).flag.enabled, 'production keeps its own configuration').toBe(false);
    r = await stack.cli('reader', ['flags', 'list', '--env', 'staging']);
    expect(r.out).toMatch(/\ncheckout\s+boolean\s+on\s+off/);
    expect(r.out).toContain('1 flag(s) in staging');
    r = await stack.cli('reader', ['flags', 'list']);
    expect(r.out).toMatch(/\ncheckout\s+boolean\s+off\s+off/);
    r = await stack.cli('reader', ['flags', 'history', 'checkout', '--env', 'staging', '--json']);
    expect(JSON.parse(r.out).changes.at(-1)).toMatchObject({ actor: 'ed' });

    r = await stack.cli('admin', ['env', 'get', 'staging']);
    expect(r.out).toMatch(/display name:\s+Staging/);
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'nowhere']);
    expect(r.code).toBe(ExitCode.NOT_FOUND);
  });

  it('a token limited to staging is refused elsewhere, and the refusal names the environment', async () => {
    let r = await stack.cli('stagingEditor', ['flags', 'set', 'checkout', '--disable', '--env', 'staging']);
    expect(r.err).toBe('');
    r = await stack.cli('stagingEditor', ['flags', 'set', 'checkout', '--disable', '--env', 'production']);
    expect(r.code).toBe(ExitCode.AUTH);
    expect(r.err).toContain('403');
    expect(r.err).toContain('may not act in environment production');
    r = await stack.cli('stagingEditor', ['flags', 'list']);
    expect(r.code).toBe(ExitCode.AUTH);
    expect(r.err).toContain('production');
    await stack.cli('editor', ['flags', 'set', 'checkout', '--enable', '--env', 'staging']);
  });

  it('a protected environment refuses direct writes and points to flagraft cr create', async () => {
    let r = await stack.cli('admin', ['env', 'update', 'production', '--approvals', '1', '--author-cannot-approve']);
    expect(r.err).toBe('');
    expect(r.out).toContain('updated environment production at revision');
    expect(r.out).toContain('1 approval(s), not the author');
    r = await stack.cli('editor', ['flags', 'set', 'checkout', '--enable']);
    expect(r.code).toBe(ExitCode.CONFLICT);
    expect(r.err).toContain('flagraft: environment production is protected: its policy requires approvals, so direct writes are refused');
    expect(r.err).toContain('flagraft cr create --env production --title');
    r = await stack.cli('editor', ['flags', 'set', 'checkout', '--enable', '--json']);
    expect(JSON.parse(r.err)).toMatchObject({ exitCode: ExitCode.CONFLICT, problem: { reason: 'PROTECTED', environment: 'production' } });
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--json']);
    expect(JSON.parse(r.out).flag.enabled).toBe(false);
    r = await stack.cli('admin', ['env', 'update', 'production', '--approvals', '0']);
    expect(r.code, 'lowering a policy needs approval too').toBe(ExitCode.CONFLICT);
    expect(r.err).toContain('--file ops.json holding [{"op": "putEnvironment"');
  });
});

describe('change requests', () => {
  it('create -> author may not approve -> a second token approves -> apply; show has the diff and the review', async () => {
    let r = await stack.cli('editor', ['cr', 'create', '--env', 'production', '--title', 'Checkout on', '--submit',
      '--flag-file', file('checkout-on.json', boolFlag('checkout', { enabled: true }))]);
    expect(r.err).toBe('');
    const id = /created change request (cr-\d+) in production \(inReview\) with 1 change/.exec(r.out)?.[1];
    expect(id, r.out).toBeDefined();
    expect(r.out).toContain(`flagraft cr approve ${id}`);

    r = await stack.cli('editor', ['cr', 'approve', id!]);
    expect(r.code, 'the author cannot approve').toBe(ExitCode.AUTH);
    r = await stack.cli('reviewer', ['cr', 'list', '--to-review']);
    expect(r.out).toMatch(new RegExp(`\\n${id}\\s+production\\s+inReview\\s+Checkout on\\s+ed\\s+0`));
    r = await stack.cli('editor', ['cr', 'list', '--to-review', '--json']);
    expect(JSON.parse(r.out).changeRequests.map((c: any) => c.changeRequest.id)).not.toContain(id);
    r = await stack.cli('editor', ['cr', 'list', '--mine', '--state', 'inReview', '--json']);
    expect(JSON.parse(r.out).changeRequests.map((c: any) => c.changeRequest.id), 'the gateway names the token: ed').toEqual([id]);
    r = await stack.cli('reviewer', ['cr', 'list', '--mine', '--state', 'inReview', '--json']);
    expect(JSON.parse(r.out).changeRequests, 'the reviewer wrote none').toEqual([]);

    r = await stack.cli('editor', ['whoami']);
    expect(r.out).toMatch(/^name:\s+ed\nrole:\s+editor\nenvironments:\s+all\n/);
    expect(JSON.parse((await stack.cli('editor', ['whoami', '--json'])).out)).toMatchObject({ name: 'ed', role: 'editor', permissions: ['evaluate', 'read', 'write'] });
    r = await stack.cli('reviewer', ['cr', 'comment', id!, 'looks right']);
    expect(r.err).toBe('');
    r = await stack.cli('reviewer', ['cr', 'approve', id!, '--comment', 'ship it']);
    expect(r.err).toBe('');
    expect(r.out).toBe(`approved ${id} (production): now approved, 1 of 1 approval(s)\n`);

    r = await stack.cli('reader', ['cr', 'show', id!]);
    expect(r.out).toMatch(/state:\s+approved/);
    expect(r.out).toMatch(/~ flag checkout in production \(from revision \d+\)\n {4}enabled: false -> true\n/);
    expect(r.out).toMatch(/eve commented: looks right/);
    expect(r.out).toMatch(/eve \(editor\) approved: ship it/);
    expect(r.out).toMatch(/\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)/); // local time with UTC beside

    r = await stack.cli('editor', ['cr', 'apply', id!]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`^applied ${id} \\(production\\): now applied, 1 approval\\(s\\), applied at revision \\d+`));
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--json']);
    expect(JSON.parse(r.out).flag.enabled).toBe(true);
  });

  it('an apply on a moved base is refused with what changed meanwhile; reject and withdraw', async () => {
    const ids: string[] = [];
    for (const [n, variant] of [[1, 'on'], [2, 'on']] as const) {
      const r = await stack.cli('editor', ['cr', 'create', '--env', 'production', '--title', `default ${n}`, '--submit',
        '--flag-file', file(`d${n}.json`, boolFlag('checkout', { enabled: true, defaultVariant: variant, ...(n === 2 ? { rules: [{ conditions: [], variant: 'off' }] } : {}) }))]);
      ids.push(/(cr-\d+)/.exec(r.out)![1]);
    }
    for (const id of ids) expect((await stack.cli('reviewer', ['cr', 'approve', id])).code).toBe(ExitCode.OK);
    expect((await stack.cli('editor', ['cr', 'apply', ids[0]])).code).toBe(ExitCode.OK);
    const r = await stack.cli('editor', ['cr', 'apply', ids[1]]);
    expect(r.code).toBe(ExitCode.CONFLICT);
    expect(r.err).toContain(`${ids[1]} was not applied: 1 item(s) changed since it was made`);
    expect(r.err).toContain(`flagraft cr rebase ${ids[1]}`);
    expect(r.err).toMatch(/changed meanwhile:\n\s+defaultVariant: "off" -> "on"/);
    expect((await stack.cli('reader', ['cr', 'show', ids[1], '--json'])).out).toContain('"status": "conflicted"');
    expect((await stack.cli('editor', ['cr', 'rebase', ids[1]])).out).toContain('now inReview');

    const c = await stack.cli('editor', ['cr', 'create', '--env', 'production', '--title', 'off again', '--flag-file', file('off.json', boolFlag('checkout', { enabled: false }))]);
    const draft = /(cr-\d+)/.exec(c.out)![1];
    expect(c.out).toContain(`(draft)`);
    expect((await stack.cli('editor', ['cr', 'submit', draft])).out).toContain('now inReview');
    expect((await stack.cli('reviewer', ['cr', 'reject', draft, '--comment', 'not now'])).out).toContain('now rejected');
    expect((await stack.cli('editor', ['cr', 'withdraw', ids[1]])).out).toContain('now withdrawn');

    // From an ops file (an array, or {"ops": [...]}) and as a promotion.
    const opsFile = file('ops.json', { ops: [{ op: 'putFlag', flag: boolFlag('banner', { enabled: true }) }] });
    let o = await stack.cli('editor', ['cr', 'create', '--env', 'staging', '--title', 'banner', '--file', opsFile]);
    expect(o.err).toBe('');
    const banner = /(cr-\d+)/.exec(o.out)![1];
    o = await stack.cli('reader', ['cr', 'show', banner]);
    expect(o.out).toMatch(/\+ flag banner in staging: new\n {4}key: \(none\) -> "banner"\n/);
    o = await stack.cli('editor', ['cr', 'create', '--env', 'production', '--title', 'as staging', '--promote-from', 'staging', '--flag', 'checkout']);
    o = await stack.cli('reader', ['cr', 'show', /(cr-\d+)/.exec(o.out)![1]]);
    expect(o.out).toContain('~ promote staging -> production (checkout); the flags it changes: flagraft promote --from staging --to production --dry-run');
    o = await stack.cli('editor', ['cr', 'create', '--env', 'staging', '--title', 'bad', '--file', file('bad-ops.json', { nope: 1 })]);
    expect(o.code).toBe(ExitCode.INVALID);
    expect(o.err).toContain('expected a JSON array of 1 to 100 operations');
  });
});

describe('promotion', () => {
  it('--dry-run shows the diff and changes nothing; without a terminal it wants --yes; confirmed it applies', async () => {
    expect((await stack.cli('admin', ['env', 'create', 'dev', '--copy-from', 'staging'])).code).toBe(ExitCode.OK);
    await stack.cli('editor', ['flags', 'set', 'checkout', '--default', 'on', '--env', 'staging']);
    let r = await stack.cli('reader', ['promote', '--from', 'staging', '--to', 'dev', '--dry-run']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^promote staging -> dev: 1 flag\(s\) would change\n~ flag checkout in dev \(from revision \d+\)\n {4}defaultVariant: "off" -> "on"\n$/);
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'dev', '--json']);
    expect(JSON.parse(r.out).flag.defaultVariant).toBe('off');

    r = await stack.cli('editor', ['promote', '--from', 'staging', '--to', 'dev']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.err).toContain('add --yes');
    const asked: string[] = [];
    r = await stack.cli('editor', ['promote', '--from', 'staging', '--to', 'dev'], { confirm: async (q) => { asked.push(q); return false; } });
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.err).toContain('not confirmed: nothing was changed');
    r = await stack.cli('editor', ['promote', '--from', 'staging', '--to', 'dev'], { confirm: async (q) => { asked.push(q); return true; } });
    expect(r.err).toBe('');
    expect(asked).toEqual(['apply this promotion to dev?', 'apply this promotion to dev?']);
    expect(r.out).toMatch(/promoted 1 flag\(s\) from staging to dev at revision \d+\n$/);
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'dev', '--json']);
    expect(JSON.parse(r.out).flag.defaultVariant).toBe('on');
    r = await stack.cli('editor', ['promote', '--from', 'staging', '--to', 'dev', '--yes']);
    expect(r.out).toContain('nothing to promote');

    await stack.cli('editor', ['flags', 'set', 'checkout', '--disable', '--env', 'staging']);
    r = await stack.cli('editor', ['promote', '--from', 'staging', '--to', 'production', '--yes']);
    expect(r.out).toMatch(/^promote staging -> production: 1 flag\(s\) would change\n~ flag checkout in production \(from revision \d+\)\n {4}enabled: true -> false\n$/);
    expect(r.code, 'production is protected').toBe(ExitCode.CONFLICT);
    expect(r.err).toContain('--promote-from');
    r = await stack.cli('reader', ['flags', 'get', 'checkout', '--json']);
    expect(JSON.parse(r.out).flag.enabled).toBe(true);
    await stack.cli('editor', ['flags', 'set', 'checkout', '--enable', '--env', 'staging']);

    r = await stack.cli('admin', ['env', 'delete', 'dev']);
    expect(r.code, 'flags are configured in dev').toBe(ExitCode.CONFLICT);
    r = await stack.cli('admin', ['env', 'delete', 'dev', '--force']);
    expect(r.out).toMatch(/^deleted environment dev at revision \d+ with 1 flag configuration\(s\)\n$/);
    expect((await stack.cli('reader', ['env', 'get', 'dev'])).code).toBe(ExitCode.NOT_FOUND);
  });
});

describe('schedules', () => {
  it('a toggle and a rollout scheduled, shown in local time with UTC, fired by the leader when due', async () => {
    const at = stack.now + 3_600_000;
    let r = await stack.cli('editor', ['schedule', 'create', '--env', 'staging', '--title', 'Checkout off tonight', '--at', iso(at), '--toggle', 'checkout', 'off']);
    expect(r.err).toBe('');
    const id = /^scheduled (sch-\d+) in staging: 1 step\(s\)/.exec(r.out)?.[1];
    expect(id, r.out).toBeDefined();
    expect(r.out).toContain(`(${iso(at).replace(/\.\d{3}Z$/, 'Z')})`);
    expect(r.out).toMatch(/set flag checkout \(disabled\)\s+pending/);

    expect(await stack.cluster.runSchedules(), 'not due yet').toBe(0);
    stack.now = at + 1;
    expect(await stack.cluster.runSchedules()).toBe(1);
    await waitFor('the step applied in staging', { timeoutMs: 10_000 }, async () =>
      JSON.parse((await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'staging', '--json'])).out).flag.enabled === false);
    r = await stack.cli('reader', ['schedule', 'show', id!]);
    expect(r.out).toMatch(/set flag checkout \(disabled\)\s+applied\s+revision \d+/);
    r = await stack.cli('reader', ['schedule', 'list', '--env', 'staging']);
    expect(r.out).toMatch(new RegExp(`\\n${id}\\s+staging\\s+Checkout off tonight\\s+-\\s+1/1\\s+ed`));

    const t1 = stack.now + 60_000;
    const t2 = stack.now + 120_000;
    r = await stack.cli('editor', ['schedule', 'create', '--env', 'staging', '--title', 'Ramp checkout', '--rollout', 'checkout', '--steps', `5%@${iso(t1)},100%@${iso(t2)}`]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/set flag checkout \(disabled, rollout on 5% \/ off 95%\)\s+pending/);
    expect(r.out).toMatch(/set flag checkout \(disabled, rollout on 100% \/ off 0%\)\s+pending/);
    const ramp = /(sch-\d+)/.exec(r.out)![1];
    r = await stack.cli('reader', ['schedule', 'list', '--pending', '--json']);
    expect(JSON.parse(r.out).schedules.map((s: any) => s.schedule.id)).toEqual([ramp]);
    stack.now = t1;
    expect(await stack.cluster.runSchedules()).toBe(1);
    await waitFor('the first rollout step', { timeoutMs: 10_000 }, async () =>
      JSON.parse((await stack.cli('reader', ['flags', 'get', 'checkout', '--env', 'staging', '--json'])).out).flag.rules[0]?.rollout?.weights[0]?.weight === 500);
    r = await stack.cli('editor', ['schedule', 'cancel', ramp]);
    expect(r.out).toBe(`cancelled ${ramp}: 1 step(s) will not run\n`);
    stack.now = t2;
    expect(await stack.cluster.runSchedules(), 'a cancelled step never fires').toBe(0);
  });

  it('an approved change request scheduled into a protected environment', async () => {
    let r = await stack.cli('editor', ['cr', 'create', '--env', 'production', '--title', 'Checkout off at night', '--submit',
      '--flag-file', file('night.json', boolFlag('checkout', { enabled: false }))]);
    const id = /(cr-\d+)/.exec(r.out)![1];
    await stack.cli('reviewer', ['cr', 'approve', id]);
    r = await stack.cli('editor', ['schedule', 'create', '--env', 'production', '--title', 'apply at night', '--at', iso(stack.now + 1000), '--cr', id]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`apply ${id}\\s+pending`));
    r = await stack.cli('editor', ['schedule', 'create', '--env', 'production', '--title', 'direct', '--at', iso(stack.now + 1000), '--toggle', 'checkout=on']);
    expect(r.code, 'toggles are direct writes: refused in a protected environment').toBe(ExitCode.CONFLICT);
    expect(r.err).toContain('schedule the approved request: flagraft schedule create --env production --cr <id> --at <time>');
    stack.now += 2000;
    expect(await stack.cluster.runSchedules()).toBe(1);
    await waitFor('the change request applied', { timeoutMs: 10_000 }, async () =>
      JSON.parse((await stack.cli('reader', ['cr', 'show', id, '--json'])).out).changeRequest.status === 'applied');
  });
});

describe('argument errors name the option, before any request', () => {
  it('refuses bad options with exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--at', 'tomorrow 9am', '--toggle', 'checkout', 'on'], '--at must be an RFC 3339 time with its zone'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--at', '2026-12-08T10:00', '--toggle', 'checkout', 'on'], '--at must be an RFC 3339 time with its zone'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--at', '2026-12-08T10:00Z', '--toggle', 'checkout', 'maybe'], 'needs on or off'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--toggle', 'checkout', 'on'], '--at <RFC 3339 time> is required'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--at', '2026-12-08T10:00Z'], 'exactly one of --cr <id>, --toggle'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--rollout', 'checkout', '--steps', '5@2026-12-08T10:00Z,150%@2026-12-08T11:00Z'], 'step 2 "150%@2026-12-08T11:00Z" must be <percent 0-100>%@'],
      [['schedule', 'create', '--env', 'staging', '--title', 't', '--rollout', 'checkout', '--steps', '50%@2026-12-08T11:00Z,100%@2026-12-08T10:00Z'], 'in time order'],
      [['schedule', 'create', '--title', 't', '--at', '2026-12-08T10:00Z', '--cr', 'cr-1'], '--env <environment> is required'],
      [['schedule', 'show', 'twelve'], 'schedule id must be sch-<number>'],
      [['cr', 'create', '--env', 'production', '--title', 'x'], 'exactly one of --file ops.json, --flag-file'],
      [['cr', 'create', '--env', 'production', '--flag-file', 'a.json'], '--title is required'],
      [['cr', 'show', 'abc'], 'change request id must be cr-<number>'],
      [['cr', 'list', '--state', 'open'], '--state must be one of draft, inReview'],
      [['cr', 'list', '--mine', '--author', 'ed'], '--mine and --author exclude each other'],
      [['env', 'update', 'staging'], 'nothing to change'],
      [['env', 'update', 'staging', '--approvals', 'two'], '--approvals must be a non-negative integer'],
      [['env', 'create', 'bad name'], 'environment name must be letters'],
      [['promote', '--to', 'dev'], '--from <environment> is required'],
      [['promote', '--from', 'dev', '--to', 'dev'], '--to must differ from --from'],
      [['flags', 'list', '--env', 'no/slash'], '--env must be an environment name'],
      [['flags', 'set', 'checkout', '--value', 'x', '--env', 'staging'], '--value is the original API'],
      [['env', 'list', '--flag', 'x'], "does not take --flag"],
    ];
    for (const [argv, msg] of cases) {
      const r = await stack.cli('editor', argv);
      expect(r.code, argv.join(' ')).toBe(ExitCode.USAGE);
      expect(r.err, argv.join(' ')).toContain(msg);
    }
  });

  it('a bad server-side value is exit 6 with the field named', async () => {
    const r = await stack.cli('admin', ['env', 'update', 'staging', '--approvals', '1000']);
    expect(r.code).toBe(ExitCode.INVALID);
    expect(r.err).toMatch(/policy\.approvalsRequired: must be an integer from 0 .* \(--approvals\)/);
  });
});
