// deploy/ and the Caddyfile. No container engine runs here, so each image is
// checked the closest way possible: its Dockerfile's own `pnpm deploy`
// produces the folder the image would contain, and the Dockerfile's exact
// CMD and HEALTHCHECK run from that folder against real processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot, stopPid, waitFor } from '../src/stack.js';

const APPS = ['consensus-node', 'gateway', 'notification-relay', 'dashboard'] as const;
type App = (typeof APPS)[number];
const dockerfile = (app: string) => readFileSync(join(repoRoot, 'deploy', app, 'Dockerfile'), 'utf8');

interface DockerfileFacts { froms: string[]; user?: string; env: Record<string, string>; cmd: string[]; healthcheck: string[]; run: string }
function readDockerfile(app: string): DockerfileFacts {
  const text = dockerfile(app).replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const facts: DockerfileFacts = { froms: [], env: {}, cmd: [], healthcheck: [], run: '' };
  let stage = 0;
  for (const l of lines) {
    const [instr, ...rest] = l.split(/\s+/);
    const arg = rest.join(' ');
    if (instr === 'FROM') { facts.froms.push(arg); stage++; }
    // Only the final stage's ENV/USER/CMD make up the image.
    if (stage !== 2) { if (instr === 'RUN') facts.run += ` ${arg}`; continue; }
    if (instr === 'USER') facts.user = arg;
    if (instr === 'ENV') for (const kv of arg.split(/\s+/)) { const i = kv.indexOf('='); facts.env[kv.slice(0, i)] = kv.slice(i + 1); }
    if (instr === 'CMD') facts.cmd = JSON.parse(arg);
    if (instr === 'HEALTHCHECK') facts.healthcheck = JSON.parse(arg.slice(arg.indexOf('CMD') + 3).trim());
  }
  return facts;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => res(port)); });
  });
}

const caddyEnv = (extra: Record<string, string> = {}) => ({
  ...process.env, FLAGRAFT_UPSTREAM_GATEWAYS: '127.0.0.1:1 127.0.0.1:2', FLAGRAFT_UPSTREAM_RELAYS: '127.0.0.1:3',
  FLAGRAFT_UPSTREAM_DASHBOARD: '127.0.0.1:4', ...extra,
});

describe('Caddyfile', () => {
  it('validates and adapts to health-checked, load-spreading routes', () => {
    const v = spawnSync('caddy', ['validate', '--config', join(repoRoot, 'Caddyfile'), '--adapter', 'caddyfile'], { env: caddyEnv(), encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    const a = spawnSync('caddy', ['adapt', '--config', join(repoRoot, 'Caddyfile'), '--adapter', 'caddyfile'], { env: caddyEnv(), encoding: 'utf8' });
    expect(a.status, a.stderr).toBe(0);
    const json = a.stdout;
    const cfg = JSON.parse(json);
    expect(cfg.storage).toEqual({ module: 'file_system', root: '/data/caddy' });
    const proxies: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    JSON.stringify(cfg, (k, v) => { if (v && v.handler === 'reverse_proxy') proxies.push(v); return v; });
    const gw = proxies.find((p) => p.upstreams.some((u: { dial: string }) => u.dial === '127.0.0.1:1'))!;
    expect(gw.upstreams).toEqual([{ dial: '127.0.0.1:1' }, { dial: '127.0.0.1:2' }]);
    expect(gw.load_balancing.selection_policy.policy).toBe('least_conn');
    expect(gw.load_balancing.try_duration).toBeGreaterThan(0);
    expect(gw.health_checks.active.uri).toBe('/health');
    expect(gw.health_checks.passive.fail_duration).toBeGreaterThan(0);
    expect(json).toMatch(/"roll_size_mb":10/);
    expect(json).toMatch(/"max_size":2000000/);
    expect(json).toMatch(/"max_size":150000000/);
    // Bodies are kept for retries, and retries of non-idempotent writes happen only after dial failures.
    expect(gw.buffer_requests).toBe(true);
    expect(gw.load_balancing.retry_match).toEqual([{ method: ['GET', 'HEAD'] }, { method: ['POST'], path: ['/ofrep/*'] }]);
    expect(json).toContain('application/problem+json');
  });

  it('switches from the internal CA to ACME with FLAGRAFT_CADDY_TLS=<e-mail>', () => {
    const internal = JSON.parse(spawnSync('caddy', ['adapt', '--config', join(repoRoot, 'Caddyfile')], { env: caddyEnv(), encoding: 'utf8' }).stdout);
    expect(JSON.stringify(internal.apps.tls.automation.policies)).toContain('"module":"internal"');
    const acme = JSON.parse(spawnSync('caddy', ['adapt', '--config', join(repoRoot, 'Caddyfile')],
      { env: caddyEnv({ FLAGRAFT_CADDY_TLS: 'ops@example.com', FLAGRAFT_DOMAIN: 'flags.example.com' }), encoding: 'utf8' }).stdout);
    const issuers = acme.apps.tls.automation.policies[0].issuers;
    expect(issuers[0]).toMatchObject({ module: 'acme', email: 'ops@example.com' });
    expect(acme.apps.tls.automation.policies[0].subjects).toEqual(['flags.example.com']);
  });
});

describe('deploy/ files', () => {
  it('has a multi-stage, non-root Dockerfile with a HEALTHCHECK per app', () => {
    for (const app of APPS) {
      const f = readDockerfile(app);
      expect(f.froms, app).toHaveLength(2);
      expect(f.run, app).toContain(`pnpm --filter @flagraft/${app} deploy --prod`);
      expect(f.user, app).toBe('node');
      expect(f.cmd.length, app).toBeGreaterThan(0);
      expect(f.healthcheck[0], app).toBe('node');
    }
  });

  it('compose.yaml runs 3 nodes with named volumes, 2 gateways, relay, dashboard, Caddy and the emulator', () => {
    const c = parse(readFileSync(join(repoRoot, 'deploy', 'compose.yaml'), 'utf8'), { merge: true }); // x-node anchors use <<
    const s = c.services;
    expect(Object.keys(s).sort()).toEqual(['caddy', 'dashboard', 'gateway-1', 'gateway-2', 'node-1', 'node-2', 'node-3', 'relay', 'sns-sqs']);
    const volumes = ['node-1', 'node-2', 'node-3'].map((n) => s[n].volumes[0].split(':'));
    expect(new Set(volumes.map((v: string[]) => v[0])).size).toBe(3);
    for (const v of volumes) { expect(c.volumes).toHaveProperty(v[0]); expect(v[1]).toBe('/data'); }
    expect(['node-1', 'node-2', 'node-3'].map((n) => s[n].environment.FLAGRAFT_NODE_ID)).toEqual(['1', '2', '3']);
    for (const svc of Object.values(s) as Array<{ build?: { dockerfile: string } }>) {
      if (svc.build) expect(existsSync(join(repoRoot, svc.build.dockerfile)), svc.build.dockerfile).toBe(true);
    }
    expect(s.caddy.volumes).toContain('../Caddyfile:/etc/caddy/Caddyfile:ro');
    // Change event keys: the nodes sign and the relay verifies with the same secret.
    expect(c.secrets.flagraft_event_keys.file).toBe('./secrets/event-keys.json');
    for (const n of ['node-1', 'node-2', 'node-3', 'relay']) {
      expect(s[n].secrets, n).toContain('flagraft_event_keys');
      expect(s[n].environment.FLAGRAFT_EVENT_KEYS_FILE, n).toBe('/run/secrets/flagraft_event_keys');
    }
    expect(s.caddy.environment.FLAGRAFT_UPSTREAM_GATEWAYS).toBe('gateway-1:8080 gateway-2:8080');
    // The compose client itself, where one is installed (no engine is needed for `config`).
    for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
      if (spawnSync(cmd[0], [...cmd.slice(1), 'version'], { encoding: 'utf8' }).status !== 0) continue; // not installed
      const r = spawnSync(cmd[0], [...cmd.slice(1), '-f', 'compose.yaml', 'config', '-q'], {
        cwd: join(repoRoot, 'deploy'), encoding: 'utf8', env: { ...process.env, FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'x'.repeat(64) },
      });
      // A missing secrets file is the only complaint allowed (made at deploy time).
      if (r.status !== 0) expect(r.stderr).toMatch(/tokens\.json|event-keys\.json/);
    }
  });

  it('Kubernetes: a StatefulSet with volumes, a headless Service, a quorum-keeping PDB, probes everywhere', () => {
    const dir = join(repoRoot, 'deploy', 'k8s');
    const kust = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
    const docs = (kust.resources as string[]).flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()));
    const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
    const sts = byKind('StatefulSet').find((d) => d.metadata.name === 'flagraft-node')!;
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    const headless = byKind('Service').find((d) => d.metadata.name === sts.spec.serviceName)!;
    expect(headless.spec.clusterIP).toBe('None');
    const pdb = byKind('PodDisruptionBudget').find((d) => d.metadata.name === 'flagraft-node')!;
    expect(pdb.spec.maxUnavailable).toBe(1); // 3 voters - 1 = a quorum of 2 stays up
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    // Nodes and relays mount the same event keys Secret where FLAGRAFT_EVENT_KEYS_FILE points.
    for (const w of [sts, byKind('Deployment').find((d) => d.metadata.name === 'flagraft-relay')!]) {
      const pod = w.spec.template.spec;
      const c = pod.containers[0];
      const file = c.env.find((e: { name: string }) => e.name === 'FLAGRAFT_EVENT_KEYS_FILE')?.value as string;
      const mount = c.volumeMounts.find((m: { mountPath: string }) => file?.startsWith(`${m.mountPath}/`));
      expect(mount, w.metadata.name).toBeDefined();
      expect(pod.volumes.find((v: { name: string }) => v.name === mount.name).secret.secretName, w.metadata.name).toBe('flagraft-event-keys');
    }
    const deployments = byKind('Deployment').map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(['flagraft-caddy', 'flagraft-dashboard', 'flagraft-gateway', 'flagraft-relay']);
    for (const w of [...byKind('Deployment'), sts]) {
      for (const c of w.spec.template.spec.containers) {
        expect(c.readinessProbe, `${w.metadata.name} readiness`).toBeDefined();
        expect(c.livenessProbe, `${w.metadata.name} liveness`).toBeDefined();
      }
      if (w.metadata.name !== 'flagraft-caddy') expect(w.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    }
  });
});

describe('each image\'s start command, from the folder `pnpm deploy` makes', () => {
  const work = mkdtempSync(join(tmpdir(), 'flagraft-deploy-'));
  const procs: ChildProcess[] = [];
  let emulator: { close(): Promise<void> } | undefined;
  afterAll(async () => {
    for (const p of procs.reverse()) if (p.pid) await stopPid(p.pid, 10_000);
    await emulator?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Builds the image's /app folder the way its Dockerfile does. */
  function deployFolder(app: App): string {
    const out = join(work, app);
    const r = spawnSync('pnpm', ['--filter', `@flagraft/${app}`, 'deploy', '--prod', '--legacy', out], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, `pnpm deploy ${app}: ${r.stderr}`).toBe(0);
    if (app === 'dashboard') {
      for (const d of ['src', 'test', 'adapters']) rmSync(join(out, d), { recursive: true, force: true });
      for (const d of ['dist', 'server']) cpSync(join(repoRoot, 'apps', 'dashboard', d), join(out, d), { recursive: true });
    }
    copyFileSync(join(repoRoot, 'deploy', 'healthcheck.mjs'), join(out, 'healthcheck.mjs'));
    // Only this app's files: no other app's sources came along.
    expect(readdirSync(out).filter((f) => APPS.some((a) => f === a))).toEqual([]);
    return out;
  }

  /** Runs the Dockerfile's CMD in the folder, then its HEALTHCHECK until it passes. */
  async function runImage(app: App, env: Record<string, string>, port: number, defaultPort: number): Promise<void> {
    const f = readDockerfile(app);
    const dir = deployFolder(app);
    const child = spawn(f.cmd[0] === 'node' ? process.execPath : f.cmd[0], f.cmd.slice(1), {
      cwd: dir, env: { PATH: process.env.PATH, ...f.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(child);
    let out = '';
    child.stdout!.on('data', (b) => { out = (out + b).slice(-20_000); });
    child.stderr!.on('data', (b) => { out = (out + b).slice(-20_000); });
    const hc = f.healthcheck.map((a) => a.replace(`:${defaultPort}`, `:${port}`));
    await waitFor(`${app} HEALTHCHECK (${hc.join(' ')})`, 60_000, () => {
      if (child.exitCode !== null) throw new Error(`${app} exited ${child.exitCode}: ${out}`);
      const r = spawnSync(process.execPath, hc.slice(1), { cwd: dir, env: { PATH: process.env.PATH, ...f.env, ...env }, encoding: 'utf8' });
      return r.status === 0 || undefined;
    }).catch((err) => { throw new Error(`${(err as Error).message}\n--- ${app} output ---\n${out}`); });
  }

  it('consensus node, gateway, relay and dashboard start and report healthy', async () => {
    const nodePort = await freePort();
    await runImage('consensus-node', {
      FLAGRAFT_NODE_ID: '1', FLAGRAFT_LISTEN: `127.0.0.1:${nodePort}`, FLAGRAFT_DATA_DIR: join(work, 'node-data'), FLAGRAFT_CLUSTER_ID: 'deploy-test',
    }, nodePort, 7001);

    const token = 'deploy-test-token';
    const { createHash } = await import('node:crypto');
    const tokens = JSON.stringify([{ name: 'admin', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }]);
    const gwPort = await freePort();
    await runImage('gateway', {
      FLAGRAFT_GATEWAY_HOST: '127.0.0.1', FLAGRAFT_GATEWAY_PORT: String(gwPort), FLAGRAFT_CLUSTER_ENDPOINTS: `127.0.0.1:${nodePort}`,
      FLAGRAFT_CLUSTER_ID: 'deploy-test', FLAGRAFT_TOKENS: tokens,
    }, gwPort, 8080);
    // The deployed gateway really serves the deployed node's data.
    const put = await fetch(`http://127.0.0.1:${gwPort}/api/v1/flags/deployed`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [] }),
    });
    expect([200, 201]).toContain(put.status);

    // The relay needs SQS: the same emulator the local stack uses, on loopback.
    const entry = join(repoRoot, 'apps', 'stack-tests', 'node_modules', 'fauxqs', 'dist', 'app.js');
    const { buildApp } = await import(pathToFileURL(entry).href);
    const app = buildApp({ logger: false });
    const sqsPort = await freePort();
    await app.listen({ port: sqsPort, host: '127.0.0.1' });
    emulator = app;
    const relayPort = await freePort();
    const eventKeys = join(work, 'event-keys.json');
    expect(spawnSync(process.execPath, [join(repoRoot, 'scripts', 'event-keys.mjs'), 'init', eventKeys]).status).toBe(0);
    await runImage('notification-relay', {
      FLAGRAFT_RELAY_HOST: '127.0.0.1', FLAGRAFT_RELAY_PORT: String(relayPort), FLAGRAFT_TOKENS: tokens, FLAGRAFT_EVENT_KEYS_FILE: eventKeys,
      FLAGRAFT_AWS_ENDPOINT: `http://127.0.0.1:${sqsPort}`, FLAGRAFT_RELAY_CREATE_RESOURCES: '1', FLAGRAFT_RELAY_QUEUE_NAME: 'deploy-test',
    }, relayPort, 8090);

    const dashPort = await freePort();
    await runImage('dashboard', {
      FLAGRAFT_DASHBOARD_HOST: '127.0.0.1', FLAGRAFT_DASHBOARD_PORT: String(dashPort), FLAGRAFT_GATEWAY_URL: `http://127.0.0.1:${gwPort}`,
      FLAGRAFT_RELAY_URL: `http://127.0.0.1:${relayPort}`, FLAGRAFT_DASHBOARD_COOKIE_SECRET: 'd'.repeat(64), FLAGRAFT_TOKENS: tokens,
    }, dashPort, 3000);
    const page = await fetch(`http://127.0.0.1:${dashPort}/login`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Sign in to flagraft');
  });
});
