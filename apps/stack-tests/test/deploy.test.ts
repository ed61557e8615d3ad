// deploy/ and the Caddyfile. No container engine runs here, so each image is
// checked the closest way possible: its Dockerfile's own `pnpm deploy`
// produces the folder the image would contain, and the Dockerfile's exact
// CMD and HEALTHCHECK run from that folder against real processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { initPki } from '@flagraft/identity';
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
    // Bodies are kept for dial-failure retries; after a request reached a gateway, Caddy 2.6 retries only what
    // is safe to repeat without its body: GET/HEAD and keyed DELETEs (clients repeat keyed writes themselves).
    expect(gw.buffer_requests).toBe(true);
    expect(gw.load_balancing.retry_match).toEqual([{ method: ['GET', 'HEAD'] }, { method: ['DELETE'], header: { 'Idempotency-Key': ['*'] } }]);
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
    // merge: the services share settings through `<<: *anchor`, as compose reads them.
    const c = parse(readFileSync(join(repoRoot, 'deploy', 'compose.yaml'), 'utf8'), { merge: true });
    const s = c.services;
    expect(Object.keys(s).sort()).toEqual(['caddy', 'certs', 'dashboard', 'gateway-1', 'gateway-2', 'node-1', 'node-2', 'node-3', 'relay', 'sns-sqs']);
    const volumes = ['node-1', 'node-2', 'node-3'].map((n) => s[n].volumes[0].split(':'));
    expect(new Set(volumes.map((v: string[]) => v[0])).size).toBe(3);
    for (const v of volumes) { expect(c.volumes).toHaveProperty(v[0]); expect(v[1]).toBe('/data'); }
    expect(['node-1', 'node-2', 'node-3'].map((n) => s[n].environment.FLAGRAFT_NODE_ID)).toEqual(['1', '2', '3']);
    for (const svc of Object.values(s) as Array<{ build?: { dockerfile: string } }>) {
      if (svc.build) expect(existsSync(join(repoRoot, svc.build.dockerfile)), svc.build.dockerfile).toBe(true);
    }
    expect(s.caddy.volumes).toContain('../Caddyfile:/etc/caddy/Caddyfile:ro');
    // One crash is never an outage: every long-running container comes back; only the one-shot certs job does not.
    for (const [name, svc] of Object.entries(s) as Array<[string, { restart?: string }]>) expect(svc.restart, name).toBe(name === 'certs' ? 'no' : 'unless-stopped');
    // The access log is 0600 (umask; Caddy 2.6 has no mode option) and the HTTP->HTTPS redirect names the published port.
    expect(s.caddy.command.join(' ')).toMatch(/^sh -c umask 077 && exec caddy run /);
    expect(s.caddy.environment.FLAGRAFT_CADDY_REDIRECT_PORT).toBe('${FLAGRAFT_HTTPS_PORT:-8443}');
    expect(s.caddy.ports).toContain('${FLAGRAFT_HTTPS_PORT:-8443}:443');
    // Change event keys: the nodes sign and the relay verifies with the same secret.
    expect(c.secrets.flagraft_event_keys.file).toBe('./secrets/event-keys.json');
    for (const n of ['node-1', 'node-2', 'node-3', 'relay']) {
      expect(s[n].secrets, n).toContain('flagraft_event_keys');
      expect(s[n].environment.FLAGRAFT_EVENT_KEYS_FILE, n).toBe('/run/secrets/flagraft_event_keys');
    }
    expect(s.caddy.environment.FLAGRAFT_UPSTREAM_GATEWAYS).toBe('gateway-1:8080 gateway-2:8080');
    // Mutual TLS: every node and gateway has its own certificate from the one-shot certs job, and waits for it.
    for (const n of ['node-1', 'node-2', 'node-3']) {
      expect(s[n].depends_on.certs).toEqual({ condition: 'service_completed_successfully' });
      expect(s[n].environment).toMatchObject({ FLAGRAFT_TLS_CA: '/pki/ca.crt', FLAGRAFT_TLS_CERT: `/pki/${n}.crt`, FLAGRAFT_TLS_KEY: `/pki/${n}.key`, FLAGRAFT_PEER_LISTEN: '0.0.0.0:7101' });
      expect(s[n].volumes).toContain('pki:/pki:ro');
    }
    expect(s['node-1'].environment.FLAGRAFT_INITIAL_CLUSTER).toBe('1=node-1:7101,2=node-2:7101,3=node-3:7101');
    for (const g of ['gateway-1', 'gateway-2']) expect(s[g].environment).toMatchObject({ FLAGRAFT_TLS_CERT: `/pki/gateway-${g}.crt`, FLAGRAFT_TLS_KEY: `/pki/gateway-${g}.key` });
    // The CA key stays in the certs job's own volume.
    expect(s.certs.volumes).toEqual(['pki-ca:/ca', 'pki:/pki']);
    expect(Object.values(s).filter((x: any) => (x.volumes ?? []).some((v: string) => v.startsWith('pki-ca:')))).toHaveLength(1); // eslint-disable-line @typescript-eslint/no-explicit-any
    // No cluster id is fixed anywhere (the certs job generates one), and every image tag is a version.
    const text = readFileSync(join(repoRoot, 'deploy', 'compose.yaml'), 'utf8');
    expect(text).not.toContain('FLAGRAFT_CLUSTER_ID');
    expect(text).not.toMatch(/:latest\b|:-latest\b/);
    // The header names a command that exists: its token one-liner runs as written.
    const oneLiner = /^#\s+(node -e ".*") > secrets\/tokens\.json$/m.exec(text)?.[1];
    expect(oneLiner).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'flagraft-compose-'));
    try {
      mkdirSync(join(dir, 'secrets'));
      const r = spawnSync('sh', ['-c', oneLiner!], { cwd: dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).map((t: { name: string }) => t.name)).toEqual(['admin', 'dashboard']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
    for (const w of [sts, byKind('StatefulSet').find((d) => d.metadata.name === 'flagraft-relay')!]) {
      const pod = w.spec.template.spec;
      const c = pod.containers[0];
      const file = c.env.find((e: { name: string }) => e.name === 'FLAGRAFT_EVENT_KEYS_FILE')?.value as string;
      const mount = c.volumeMounts.find((m: { mountPath: string }) => file?.startsWith(`${m.mountPath}/`));
      expect(mount, w.metadata.name).toBeDefined();
      expect(pod.volumes.find((v: { name: string }) => v.name === mount.name).secret.secretName, w.metadata.name).toBe('flagraft-event-keys');
    }
    const caddy = byKind('Deployment').find((d) => d.metadata.name === 'flagraft-caddy')!;
    expect(caddy.spec.template.spec.containers[0].command.join(' ')).toMatch(/^sh -c umask 077 && exec caddy run /);
    // Dashboard sessions are in memory: its Service keeps a client on one pod (for the session's 8 h).
    const dashboardSvc = byKind('Service').find((d) => d.metadata.name === 'flagraft-dashboard')!;
    expect(dashboardSvc.spec).toMatchObject({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 28800 } } });
    const deployments = byKind('Deployment').map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(['flagraft-caddy', 'flagraft-dashboard', 'flagraft-gateway']);
    // Relays have stable names, so each keeps its SQS queue across restarts.
    const relays = byKind('StatefulSet').find((d) => d.metadata.name === 'flagraft-relay')!;
    const queueEnv = relays.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'FLAGRAFT_RELAY_QUEUE_NAME');
    expect(queueEnv.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    for (const w of [...byKind('Deployment'), sts, relays]) {
      for (const c of w.spec.template.spec.containers) {
        expect(c.readinessProbe, `${w.metadata.name} readiness`).toBeDefined();
        expect(c.livenessProbe, `${w.metadata.name} liveness`).toBeDefined();
      }
      // Pods restart a container that exits (restartPolicy Always, the default for these workloads).
      expect(w.spec.template.spec.restartPolicy ?? 'Always', w.metadata.name).toBe('Always');
      if (w.metadata.name !== 'flagraft-caddy') expect(w.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    }
    // Every image of ours is pinned to a version, here and in the kustomization.
    const images = docs.flatMap((d) => JSON.stringify(d).match(/"image":"[^"]+"/g) ?? []).map((m) => m.slice(9, -1));
    for (const img of images.filter((i) => i.startsWith('flagraft/'))) expect(img).toMatch(/^flagraft\/[a-z-]+:\d+\.\d+\.\d+$/);
    expect(kust.images.map((i: { newTag: string }) => i.newTag)).toEqual(['0.1.0', '0.1.0', '0.1.0', '0.1.0']);
    // Nodes: TLS from the PKI Secret, Raft and client ports apart, probes on the plain-text health port, no fixed cluster id.
    const node = sts.spec.template.spec.containers[0];
    const env = Object.fromEntries(node.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ FLAGRAFT_PEER_LISTEN: '0.0.0.0:7101', FLAGRAFT_HEALTH_LISTEN: '0.0.0.0:7201', FLAGRAFT_TLS_CA: '/etc/flagraft-pki/ca.crt' });
    expect(env.FLAGRAFT_CLUSTER_ID).toBeUndefined();
    expect(env.FLAGRAFT_INITIAL_CLUSTER).toMatch(/^1=flagraft-node-0\.flagraft-node:7101,/);
    expect(node.readinessProbe.grpc.port).toBe(7201);
    // The start command: node id from the pod ordinal, its own certificate, and FLAGRAFT_JOIN=1 for a pod beyond
    // the initial members (scaling up), so the documented add-learner + promote works.
    const startEnv = (hostname: string) => {
      const script = (node.command[2] as string).replace('exec node dist/main.js', 'env');
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, HOSTNAME: hostname, FLAGRAFT_INITIAL_CLUSTER: env.FLAGRAFT_INITIAL_CLUSTER } });
      return Object.fromEntries(r.stdout.split('\n').filter((l) => l.startsWith('FLAGRAFT_')).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    };
    expect(startEnv('flagraft-node-1')).toMatchObject({ FLAGRAFT_NODE_ID: '2', FLAGRAFT_TLS_CERT: '/etc/flagraft-pki/node-2.crt', FLAGRAFT_PEER_ADVERTISE: 'flagraft-node-1.flagraft-node:7101' });
    expect(startEnv('flagraft-node-1').FLAGRAFT_JOIN).toBeUndefined();
    expect(startEnv('flagraft-node-3')).toMatchObject({ FLAGRAFT_NODE_ID: '4', FLAGRAFT_JOIN: '1', FLAGRAFT_TLS_KEY: '/etc/flagraft-pki/node-4.key' });
    expect(sts.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'pki').secret.secretName).toBe('flagraft-pki-nodes');
    const gw = byKind('Deployment').find((d) => d.metadata.name === 'flagraft-gateway')!;
    expect(gw.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'pki').secret.secretName).toBe('flagraft-pki-gateway');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) expect(readFileSync(join(dir, f), 'utf8'), f).not.toContain('FLAGRAFT_CLUSTER_ID');
    // The certificate job and its monthly rotation; only its Role may touch the PKI Secrets.
    expect(byKind('Job').map((j) => j.metadata.name)).toEqual(['flagraft-pki']);
    expect(byKind('CronJob')[0].spec.jobTemplate.spec.template.spec.containers[0].env).toContainEqual({ name: 'FLAGRAFT_PKI_ACTION', value: 'rotate' });
    expect(kust.configMapGenerator[0]).toMatchObject({ name: 'flagraft-pki-job', files: ['pki-job.mjs'] });
    // NetworkPolicy: Raft only from nodes, the client port only from gateways (and labelled admin tools).
    const np = byKind('NetworkPolicy').find((d) => d.metadata.name === 'flagraft-node')!;
    expect(np.spec.podSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    const rule = (port: number) => np.spec.ingress.find((r: { ports: { port: number }[] }) => r.ports.some((p) => p.port === port));
    expect(rule(7101).from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'flagraft-node' } } }]);
    expect(rule(7001).from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'flagraft-gateway' } } },
      { podSelector: { matchLabels: { 'flagraft.dev/cluster-client': 'true' } } },
    ]);
    expect(gw.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('flagraft-gateway');
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

  const deployed = new Map<App, string>();
  /** Builds the image's /app folder the way its Dockerfile does (once per app). */
  function deployFolder(app: App): string {
    const made = deployed.get(app);
    if (made) return made;
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
    deployed.set(app, out);
    return out;
  }

  /** compose.yaml's one-shot `certs` service, run from the image's folder with its /ca and /pki volumes as folders here. */
  function composeCerts(action: string[] = ['init']): { ca: string; pki: string } {
    const c = parse(readFileSync(join(repoRoot, 'deploy', 'compose.yaml'), 'utf8'));
    const [shell, flags, script, name] = c.services.certs.entrypoint as string[];
    const ca = join(work, 'volume-pki-ca');
    const pki = join(work, 'volume-pki');
    mkdirSync(ca, { recursive: true });
    mkdirSync(pki, { recursive: true });
    // Compose turns $$ into $; the volumes are mounted at /ca and /pki.
    const local = script.replace(/\$\$/g, '$').replace(/(?<=[\s"'])\/ca\b/g, ca).replace(/(?<=[\s"'])\/pki\b/g, pki);
    const r = spawnSync(shell, [flags, local, name, ...action], { cwd: deployFolder('consensus-node'), encoding: 'utf8', env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}` } });
    expect(r.status, `certs job: ${r.stdout}${r.stderr}`).toBe(0);
    return { ca, pki };
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

  it("compose's certs job makes a CA, a cluster id and every certificate; the CA key stays in its own volume; a second run changes nothing", () => {
    const { ca, pki } = composeCerts();
    const files = readdirSync(pki).sort();
    expect(files).toEqual(['admin-ops.crt', 'admin-ops.key', 'ca.crt', 'cluster-id', 'gateway-gateway-1.crt', 'gateway-gateway-1.key', 'gateway-gateway-2.crt', 'gateway-gateway-2.key',
      'node-1.crt', 'node-1.key', 'node-2.crt', 'node-2.key', 'node-3.crt', 'node-3.key']);
    expect(readdirSync(ca)).toContain('ca.key');
    for (const k of files.filter((f) => f.endsWith('.key'))) expect(statSync(join(pki, k)).mode & 0o777, k).toBe(0o600);
    expect(readFileSync(join(pki, 'cluster-id'), 'utf8')).toMatch(/^fr-[a-z2-7]{12}\n$/);
    const before = readFileSync(join(pki, 'node-1.crt'), 'utf8');
    composeCerts();
    expect(readFileSync(join(pki, 'node-1.crt'), 'utf8')).toBe(before);
    composeCerts(['rotate', '--only', 'admin-ops']);
    expect(readFileSync(join(pki, 'node-1.crt'), 'utf8')).toBe(before);
  });

  it("the Kubernetes certificate job keeps the PKI in Secrets: init once, only missing certificates later, rotation with the same CA; nodes' and gateways' Secrets hold no CA key", async () => {
    // No Kubernetes here: a stand-in API server (HTTPS, bearer token, in-memory Secrets) that
    // answers the few calls the job makes exactly as the real one documents them.
    const sa = join(work, 'sa');
    await initPki(join(work, 'api-pki'), { nodes: [1] });
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'job-token');
    writeFileSync(join(sa, 'namespace'), 'flagraft');
    copyFileSync(join(work, 'api-pki', 'ca.crt'), join(sa, 'ca.crt'));
    const secrets = new Map<string, { metadata: { name: string; resourceVersion: string }; data: Record<string, string> }>();
    let version = 0;
    const server = https.createServer({ cert: readFileSync(join(work, 'api-pki', 'node-1.crt')), key: readFileSync(join(work, 'api-pki', 'node-1.key')) }, (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const answer = (status: number, json: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
        if (req.headers.authorization !== 'Bearer job-token') return answer(401, { reason: 'Unauthorized' });
        const m = /^\/api\/v1\/namespaces\/flagraft\/secrets(?:\/([\w.-]+))?$/.exec(req.url ?? '');
        if (!m) return answer(404, { reason: 'NotFound' });
        const name = m[1];
        if (req.method === 'GET' && name) return secrets.has(name) ? answer(200, secrets.get(name)) : answer(404, { reason: 'NotFound' });
        const doc = JSON.parse(body);
        if (req.method === 'POST' && !name) {
          if (secrets.has(doc.metadata.name)) return answer(409, { reason: 'AlreadyExists' });
          secrets.set(doc.metadata.name, { ...doc, metadata: { ...doc.metadata, resourceVersion: String(++version) } });
          return answer(201, secrets.get(doc.metadata.name));
        }
        if (req.method === 'PUT' && name && secrets.has(name)) {
          if (doc.metadata.resourceVersion !== secrets.get(name)!.metadata.resourceVersion) return answer(409, { reason: 'Conflict' });
          secrets.set(name, { ...doc, metadata: { ...doc.metadata, resourceVersion: String(++version) } });
          return answer(200, secrets.get(name));
        }
        return answer(405, { reason: 'MethodNotAllowed' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const appDir = deployFolder('consensus-node');
    // Asynchronous: the stand-in API answers from this process.
    const job = (action: string) => new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'deploy', 'k8s', 'pki-job.mjs')], {
        env: { PATH: process.env.PATH, FLAGRAFT_K8S_API: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, FLAGRAFT_K8S_SA_DIR: sa,
          FLAGRAFT_APP_DIR: appDir, FLAGRAFT_PKI_ACTION: action },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (b) => { stderr += b; });
      child.on('exit', (status) => resolve({ status, stderr }));
    });
    const files = (name: string) => Object.keys(secrets.get(name)?.data ?? {}).sort();
    const text = (name: string, file: string) => Buffer.from(secrets.get(name)!.data[file], 'base64').toString('utf8');
    try {
      const rotateFirst = await job('rotate');
      expect(rotateFirst.status).toBe(1);
      expect(rotateFirst.stderr).toContain('run the job with FLAGRAFT_PKI_ACTION=init first');
      const first = await job('init');
      expect(first.status, first.stderr).toBe(0);
      expect(files('flagraft-pki-ca')).toContain('ca.key');
      expect(files('flagraft-pki-nodes')).toEqual(['ca.crt', 'cluster-id', ...[1, 2, 3, 4, 5].flatMap((i) => [`node-${i}.crt`, `node-${i}.key`])].sort());
      expect(files('flagraft-pki-gateway')).toEqual(['ca.crt', 'cluster-id', 'gateway-gateways.crt', 'gateway-gateways.key']);
      expect(files('flagraft-pki-admin')).toEqual(['admin-ops.crt', 'admin-ops.key', 'ca.crt', 'cluster-id']);
      const clusterId = text('flagraft-pki-ca', 'cluster-id');
      expect(clusterId).toMatch(/^fr-[a-z2-7]{12}\n$/);
      expect(new X509Certificate(text('flagraft-pki-nodes', 'node-4.crt')).subjectAltName).toContain('DNS:flagraft-node-3.flagraft-node');
      const node1 = text('flagraft-pki-nodes', 'node-1.crt');
      expect((await job('init')).status).toBe(0);
      expect(text('flagraft-pki-nodes', 'node-1.crt')).toBe(node1);
      const rotated = await job('rotate');
      expect(rotated.status, rotated.stderr).toBe(0);
      expect(text('flagraft-pki-nodes', 'node-1.crt')).not.toBe(node1);
      expect(text('flagraft-pki-nodes', 'ca.crt')).toBe(text('flagraft-pki-ca', 'ca.crt'));
      expect(text('flagraft-pki-ca', 'cluster-id')).toBe(clusterId);
    } finally {
      server.close();
    }
  });

  it('consensus node, gateway, relay and dashboard start and report healthy, with the certificates of the certs job', async () => {
    const { pki } = composeCerts();
    const [nodePort, peerPort, healthPort] = [await freePort(), await freePort(), await freePort()];
    await runImage('consensus-node', {
      FLAGRAFT_NODE_ID: '1', FLAGRAFT_LISTEN: `127.0.0.1:${nodePort}`, FLAGRAFT_PEER_LISTEN: `127.0.0.1:${peerPort}`, FLAGRAFT_HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      FLAGRAFT_DATA_DIR: join(work, 'node-data'), FLAGRAFT_TLS_CA: join(pki, 'ca.crt'), FLAGRAFT_TLS_CERT: join(pki, 'node-1.crt'), FLAGRAFT_TLS_KEY: join(pki, 'node-1.key'),
    }, healthPort, 7201);

    const token = 'deploy-test-token';
    const { createHash } = await import('node:crypto');
    const tokens = JSON.stringify([{ name: 'admin', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }]);
    const gwPort = await freePort();
    await runImage('gateway', {
      FLAGRAFT_GATEWAY_HOST: '127.0.0.1', FLAGRAFT_GATEWAY_PORT: String(gwPort), FLAGRAFT_CLUSTER_ENDPOINTS: `127.0.0.1:${nodePort}`, FLAGRAFT_TOKENS: tokens,
      FLAGRAFT_TLS_CA: join(pki, 'ca.crt'), FLAGRAFT_TLS_CERT: join(pki, 'gateway-gateway-1.crt'), FLAGRAFT_TLS_KEY: join(pki, 'gateway-gateway-1.key'),
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
