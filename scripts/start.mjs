#!/usr/bin/env node
// The local stack launcher (`npm start` builds, then runs this).
//
// Starts the whole flagraft system on this machine, all on loopback:
//   the SNS/SQS emulator (fauxqs, in this process), 3 consensus nodes,
//   2 gateways, the notification relay, the dashboard, and Caddy in front
//   (https://localhost:8443, `tls internal`) when Caddy is installed.
// Prints the URLs and, on the first start, an admin token (only its SHA-256
// is stored). Logs of every process are streamed with a name prefix.
// The nodes speak mutual TLS with each other and with the gateways, with a
// cluster CA and certificates made on the first start in <data>/pki (see
// `flagraft certs`); `kill -HUP <pid>` of a node or gateway reloads them.
// A process that exits once the stack is up is restarted (backoff, bounded
// budget, logged). Ctrl-C (SIGINT) or SIGTERM stops everything, by PID, in reverse order.
//
//   node scripts/start.mjs [--fresh] [--demo] [--ports free] [--https-port N]
//                          [--data-dir DIR] [--no-caddy] [--new-admin-token]
//
// Data lives in .data/ (git-ignored) and is kept across restarts; --fresh
// wipes it first. --demo creates a few example flags (only missing ones).
// --ports free picks free ports for everything (tests use it); the default
// ports are the documented ones (README, Quick start) and a busy one is an error.
// FLAGRAFT_ADMIN_TOKEN=<token> sets the first admin token instead of a random one.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureEventKeysFile } from './event-keys.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Named limits (milliseconds).
const READY_TIMEOUT_MS = 90_000; // whole stack ready, after the processes are spawned
const STOP_GRACE_MS = 8_000; // SIGTERM -> SIGKILL for each process
const POLL_INTERVAL_MS = 200;

const DEFAULT_PORTS = {
  node1: 7001, node2: 7002, node3: 7003, peer1: 7101, peer2: 7102, peer3: 7103, gateway1: 8080, gateway2: 8081,
  relay: 8090, dashboard: 3000, sqs: 4566, https: 8443, http: 8880,
};

// ---------------------------------------------------------------- options
let opts;
try {
  opts = parseArgs({
    options: {
      fresh: { type: 'boolean' }, demo: { type: 'boolean' }, 'no-caddy': { type: 'boolean' },
      'no-install': { type: 'boolean' }, 'new-admin-token': { type: 'boolean' },
      ports: { type: 'string' }, 'https-port': { type: 'string' }, 'data-dir': { type: 'string' },
      'raw-logs': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  fatal(`${err.message} (see --help)`);
}
if (opts.help) {
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 22);
  console.log(head.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
if (opts.ports !== undefined && opts.ports !== 'free' && opts.ports !== 'default') fatal(`--ports must be "free" or "default", got ${JSON.stringify(opts.ports)}`);
const dataDir = resolve(opts['data-dir'] ?? join(root, '.data'));

function fatal(msg) {
  console.error(`start: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------- logging
const COLORS = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];
const tty = process.stdout.isTTY;
let colorIndex = 0;
function say(msg) {
  process.stdout.write(`${tty ? '\x1b[1m' : ''}start     |${tty ? '\x1b[0m' : ''} ${msg}\n`);
}
/** One line of a child's output, prefixed; JSON log lines are shown as `level msg key=value`. */
function makePrinter(name) {
  const c = COLORS[colorIndex++ % COLORS.length];
  const prefix = tty ? `\x1b[${c}m${name.padEnd(10)}|\x1b[0m ` : `${name.padEnd(10)}| `;
  return (line) => {
    let text = line;
    if (!opts['raw-logs'] && line.startsWith('{')) {
      try {
        const o = JSON.parse(line);
        const { t, ts, time, level, msg, app, ...rest } = o;
        const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        text = `${String(level ?? '').padEnd(5)} ${msg ?? ''}${fields ? ` ${fields}` : ''}`;
      } catch { /* not JSON: print as is */ }
    }
    process.stdout.write(prefix + text + '\n');
  };
}

// ---------------------------------------------------------------- helpers
/**
 * @flagraft/testkit (packages/testkit): the process launcher this script
 * shares with the tests (free ports, spawning, waiting, stopping by PID,
 * the emulator). Loaded in main() once the build is known to be there.
 */
let tk;

/** GET url; resolves to the status code, or 0 when it cannot connect. */
function probe(url, ca) {
  return new Promise((res) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: 'GET', timeout: 2000, ...(ca ? { ca } : {}) }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on('error', () => res(0)).on('timeout', () => req.destroy());
    req.end();
  });
}

function writeJson(path, value, mode = 0o600) {
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n', { mode });
  renameSync(`${path}.tmp`, path);
}
const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');

// ---------------------------------------------------------------- processes
// Restarts (named limits). A process that exits after start-up is started
// again, so one crash (a bug hit by one request) is never an outage: first
// after RESTART_BACKOFF_MIN_MS, doubling up to RESTART_BACKOFF_MAX_MS for
// each further exit; a process that then stays up RESTART_STABLE_UPTIME_MS
// has its count reset. After RESTART_BUDGET exits in a row without such a
// stable run (a crash loop: bad config, a broken disk) it is left down,
// loudly, and the rest keeps running.
const RESTART_BACKOFF_MIN_MS = 500;
const RESTART_BACKOFF_MAX_MS = 30_000;
const RESTART_STABLE_UPTIME_MS = 60_000;
const RESTART_BUDGET = 10;

/** Every process we started: {name, child, pid, spec, restarts, ...}. Stopped in reverse order. */
const procs = [];
let shuttingDown = false;
/** Set once the stack is ready: an exit during start-up fails the start instead (it names the process). */
let restartsEnabled = false;
/** Called after a restart (the new PID goes into stack.json). */
let onRestarted = () => {};

function startProcess(name, cmd, args, env, cwd = root) {
  const p = { name, spec: { cmd, args, env, cwd }, proc: undefined, pid: undefined, exited: false, lastLines: [], restarts: 0, startedAt: 0, restartTimer: undefined };
  spawnChild(p);
  procs.push(p);
  return p;
}

function spawnChild(p) {
  const { cmd, args, env, cwd } = p.spec;
  const print = p.print ?? (p.print = makePrinter(p.name));
  const proc = tk.spawnProcess({
    name: p.name, command: cmd, args, cwd,
    env: { ...process.env, ...env },
    // Own process group: a terminal Ctrl-C reaches only the launcher, which
    // then stops the processes in order (gateways before nodes, ...).
    detached: true,
    // shutdown() stops them; a launcher killed hard leaves them to the next start (stopLeftovers).
    stopOnExit: false,
    onLine: (line, stream) => {
      print(line);
      if (stream === 'stderr') { p.lastLines.push(line); if (p.lastLines.length > 5) p.lastLines.shift(); }
    },
  });
  p.proc = proc;
  p.pid = proc.child.pid;
  p.exited = false;
  p.startedAt = Date.now();
  proc.child.once('error', (err) => say(`${p.name}: cannot start ${cmd}: ${err.message}`));
  void proc.exited.then(({ code, signal }) => {
    p.exited = true;
    if (shuttingDown) return;
    const how = signal ?? `with code ${code}`;
    if (!restartsEnabled) return say(`${p.name} (pid ${proc.child.pid}) exited ${how}`);
    scheduleRestart(p, how);
  });
}

function scheduleRestart(p, how) {
  if (Date.now() - p.startedAt >= RESTART_STABLE_UPTIME_MS) p.restarts = 0;
  if (p.restarts >= RESTART_BUDGET) {
    say(`${p.name} (pid ${p.pid}) exited ${how}: ${RESTART_BUDGET} restarts without ${RESTART_STABLE_UPTIME_MS / 1000} s of uptime in between, giving up on it (the rest keeps running; restart the stack once the cause is fixed)`);
    for (const l of p.lastLines) say(`  ${p.name}: ${l}`);
    return;
  }
  const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** p.restarts);
  p.restarts++;
  say(`${p.name} (pid ${p.pid}) exited ${how}; restarting in ${delay} ms (restart ${p.restarts} of ${RESTART_BUDGET} before ${RESTART_STABLE_UPTIME_MS / 1000} s of uptime resets the count)`);
  p.restartTimer = setTimeout(() => {
    p.restartTimer = undefined;
    if (shuttingDown) return;
    spawnChild(p);
    say(`${p.name} restarted (pid ${p.pid})`);
    onRestarted();
  }, delay);
}

async function stopProcess(p) {
  if (p.restartTimer) { clearTimeout(p.restartTimer); p.restartTimer = undefined; }
  if (p.exited) return;
  await p.proc.stop(STOP_GRACE_MS);
}

let fauxqs;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping...');
  // Reverse start order: Caddy, dashboard, relay, gateways first; nodes together at the end.
  const nodes = procs.filter((p) => p.name.startsWith('node-'));
  for (const p of procs.filter((q) => !q.name.startsWith('node-')).reverse()) await stopProcess(p);
  await Promise.all(nodes.map(stopProcess));
  if (fauxqs) await fauxqs.stop().catch(() => {});
  try { rmSync(join(dataDir, 'stack.json'), { force: true }); } catch { /* ignore */ }
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

/** A previous launcher that was killed hard may have left processes behind: stop those we recorded. */
function stopLeftovers() {
  const file = join(dataDir, 'stack.json');
  if (!existsSync(file)) return;
  let prev;
  try { prev = JSON.parse(readFileSync(file, 'utf8')); } catch { return; }
  for (const { name, pid } of prev.processes ?? []) {
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    // Only processes that are still ours (same repository path on their command line).
    if (cmdline.includes(root) || (name === 'caddy' && cmdline.includes('caddy'))) {
      say(`stopping ${name} (pid ${pid}) left over from a previous run`);
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

// ---------------------------------------------------------------- Caddy
function findCaddy() {
  const r = spawnSync('sh', ['-c', 'command -v caddy'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  if (opts['no-install'] || process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) return undefined;
  say('Caddy is not installed: installing Debian\'s package (apt-get install caddy)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let ok = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'caddy'], { env, stdio: 'ignore' }).status === 0;
  if (!ok) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    ok = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'caddy'], { env, stdio: 'ignore' }).status === 0;
  }
  // Debian's package also starts a system-wide caddy service on :80; we run our own process.
  return ok ? '/usr/bin/caddy' : undefined;
}

// ---------------------------------------------------------------- certificates
/**
 * The cluster's PKI in <data>/pki, made on the first start: a CA, a new
 * random cluster id, a certificate per node and per gateway (keys 0600).
 * A data folder from before TLS keeps its cluster id (the nodes stored it).
 */
async function ensurePki(dir, existingClusterId) {
  const { initPki, pkiFiles } = await import(pathToFileURL(join(root, 'packages', 'identity', 'dist', 'index.js')).href);
  const r = await initPki(join(dir, 'pki'), {
    clusterId: existingClusterId,
    nodes: [1, 2, 3],
    services: [{ role: 'gateway', name: 'gw-1' }, { role: 'gateway', name: 'gw-2' }, { role: 'admin', name: 'local' }],
    ifMissing: true,
  });
  if (r.created) say(`made the cluster's certificates in ${join(dir, 'pki')} (cluster ${r.clusterId})`);
  else if (r.issued.length) say(`issued missing certificates: ${r.issued.join(', ')}`);
  return { dir: join(dir, 'pki'), clusterId: r.clusterId, files: (name) => pkiFiles(join(dir, 'pki'), name) };
}

/** The environment that gives a process its certificate. */
function tlsEnv(files) {
  return { FLAGRAFT_TLS_CA: files.caFile, FLAGRAFT_TLS_CERT: files.certFile, FLAGRAFT_TLS_KEY: files.keyFile };
}

// ---------------------------------------------------------------- demo flags
const DEMO_FLAGS = [
  { key: 'new-checkout', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true,
    description: 'The redesigned checkout: 25% of users, everyone in the beta segment', tags: ['demo', 'checkout'], owner: 'payments',
    rules: [
      { description: 'beta testers', conditions: [{ attribute: 'beta', op: 'equals', value: true }], variant: 'on' },
      { description: 'gradual rollout', conditions: [], rollout: { weights: [{ variant: 'on', weight: 25 }, { variant: 'off', weight: 75 }] } },
    ] },
  { key: 'banner-text', type: 'string', variants: { none: '', sale: 'Winter sale: 20% off', launch: 'New: flagraft 1.0' },
    defaultVariant: 'none', enabled: true, tags: ['demo', 'marketing'],
    rules: [{ conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'AT', 'CH'] }], variant: 'sale' }] },
  { key: 'search-results-per-page', type: 'number', variants: { small: 10, large: 50 }, defaultVariant: 'small', enabled: true, tags: ['demo'], rules: [] },
  { key: 'maintenance-mode', type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', offVariant: 'off', enabled: false,
    description: 'Kill switch: turn on to show the maintenance page', tags: ['demo', 'ops'], rules: [] },
];

async function seedDemo(gatewayUrl, token) {
  let created = 0;
  for (const flag of DEMO_FLAGS) {
    const res = await fetch(`${gatewayUrl}/api/v1/flags/${flag.key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'if-none-match': '*' },
      body: JSON.stringify(flag),
    });
    if (res.ok) created++;
    else if (res.status !== 412 && res.status !== 409) say(`demo: ${flag.key}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  }
  say(`demo: ${created} example flag(s) created (${DEMO_FLAGS.length - created} already there)`);
}

// ---------------------------------------------------------------- main
async function main() {
  const needBuilt = {
    identity: 'packages/identity/dist/index.js',
    testkit: 'packages/testkit/dist/index.js',
    'consensus-node': 'apps/consensus-node/dist/main.js',
    gateway: 'apps/gateway/dist/main.js',
    'notification-relay': 'apps/notification-relay/dist/main.js',
    dashboard: 'apps/dashboard/server/entry.node-server.js',
  };
  // Components not built yet are skipped with a warning (the stack is built
  // by several teams at once); without consensus nodes there is nothing to run.
  const built = Object.fromEntries(Object.entries(needBuilt).map(([a, f]) => [a, existsSync(join(root, f))]));
  for (const [a, ok] of Object.entries(built)) if (!ok) say(`WARNING: ${a} is not built (${needBuilt[a]} missing): starting without it`);
  if (!built['consensus-node'] || !built.identity || !built.testkit) {
    const demo = join(root, 'packages/raft-core/dist/demo.js');
    if (!existsSync(demo)) fatal('nothing is built yet: run `npm start`, which builds first');
    say('the consensus node is not built: running the raft-core demo instead');
    const r = spawnSync(process.execPath, [demo], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }

  tk = await import(pathToFileURL(join(root, needBuilt.testkit)).href);

  if (opts.fresh && existsSync(dataDir)) {
    stopLeftovers();
    say(`--fresh: wiping ${dataDir}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  stopLeftovers();

  // Secrets made once and kept: cluster id, dashboard cookie secret, tokens (hashed).
  const secretsFile = join(dataDir, 'secrets.json');
  let secrets = existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : undefined;
  if (!secrets) {
    secrets = { cookieSecret: randomBytes(32).toString('hex') };
    writeJson(secretsFile, secrets);
  }
  // The cluster id is the PKI's (generated on the first start); older folders keep theirs.
  const pki = await ensurePki(dataDir, secrets.clusterId);
  const tokensFile = join(dataDir, 'tokens.json');
  let newToken;
  let tokens = existsSync(tokensFile) ? JSON.parse(readFileSync(tokensFile, 'utf8')) : [];
  if (tokens.length === 0 || opts['new-admin-token']) {
    newToken = (tokens.length === 0 && process.env.FLAGRAFT_ADMIN_TOKEN) || `fr_${randomBytes(24).toString('base64url')}`;
    const admins = tokens.filter((t) => t.role === 'admin').length;
    tokens = [...tokens, { name: admins === 0 ? 'admin' : `admin-${admins + 1}`, role: 'admin', sha256: sha256(newToken) }];
    writeJson(tokensFile, tokens);
  }
  // The dashboard's own reader token, for the change stream that keeps its
  // flag-list index current (kept in secrets.json like the cookie secret).
  if (!secrets.dashboardFeedToken) {
    secrets = { ...secrets, dashboardFeedToken: `fr_${randomBytes(24).toString('base64url')}` };
    writeJson(secretsFile, secrets);
  }
  if (!tokens.some((t) => t.name === 'dashboard')) {
    tokens = [...tokens, { name: 'dashboard', role: 'reader', sha256: sha256(secrets.dashboardFeedToken) }];
    writeJson(tokensFile, tokens);
  }

  // The keys that sign change events (nodes) and verify them (relay), made once, 0600.
  const eventKeysFile = join(dataDir, 'event-keys.json');
  if (ensureEventKeysFile(eventKeysFile)) say(`created ${eventKeysFile} (change event signing key; rotate with scripts/event-keys.mjs)`);

  // Ports. Chosen once per data folder and kept: the consensus nodes store
  // their peers' addresses, so a restart must bring them back on the same ports.
  const portsFile = join(dataDir, 'ports.json');
  const keptPorts = existsSync(portsFile) ? JSON.parse(readFileSync(portsFile, 'utf8')) : undefined;
  let ports = keptPorts ? { ...DEFAULT_PORTS, ...keptPorts } : undefined;
  if (keptPorts && keptPorts.peer1 === undefined) {
    // A folder from before the nodes had a separate peer port: their replicated
    // address book holds the old node ports as Raft addresses, so those become
    // the peer ports and the clients get new ones.
    for (const i of [1, 2, 3]) { ports[`peer${i}`] = keptPorts[`node${i}`]; ports[`node${i}`] = await tk.freePort(); }
    writeJson(portsFile, ports);
    say(`this data folder predates the separate peer ports: Raft stays on ${[1, 2, 3].map((i) => ports[`peer${i}`]).join(', ')}, clients move to ${[1, 2, 3].map((i) => ports[`node${i}`]).join(', ')}`);
  }
  if (!ports) {
    ports = { ...DEFAULT_PORTS, http: await tk.freePort() };
    if (opts.ports === 'free') for (const k of Object.keys(ports)) ports[k] = await tk.freePort();
    if (opts['https-port']) {
      const p = Number(opts['https-port']);
      if (!Number.isInteger(p) || p < 1 || p > 65535) fatal(`--https-port must be 1..65535, got ${opts['https-port']}`);
      ports.https = p;
    }
    writeJson(portsFile, ports);
  } else if (opts.ports || opts['https-port']) {
    say(`using the ports chosen at the first start (${portsFile}); --fresh to choose again`);
  }
  for (const [k, p] of Object.entries(ports)) {
    if (!(await tk.portIsFree(p))) fatal(`port ${p} (${k}) is in use on 127.0.0.1: is flagraft already running? (ports are kept in ${portsFile}; --fresh with --ports free picks new ones)`);
  }

  // 1. SNS/SQS emulator + the topic the nodes publish to.
  // The SNS/SQS emulator (fauxqs) runs in this process, on loopback only.
  fauxqs = await tk.startEmulator({ port: ports.sqs });
  const sqsUrl = fauxqs.endpoint;
  const topicArn = await fauxqs.createTopic('flagraft-changes');
  say(`SNS/SQS emulator on ${sqsUrl} (topic ${topicArn})`);

  const aws = {
    AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1',
    // The SDK versions are pinned to ones that run on Node 20; its notice about future releases is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const common = { FLAGRAFT_TOKENS_FILE: tokensFile };

  // 2. Consensus nodes: clients on nodeN, Raft on peerN, each with its node certificate.
  const nodeAddrs = [1, 2, 3].map((i) => `127.0.0.1:${ports[`node${i}`]}`);
  const peerAddrs = [1, 2, 3].map((i) => `127.0.0.1:${ports[`peer${i}`]}`);
  const initialCluster = peerAddrs.map((a, i) => `${i + 1}=${a}`).join(',');
  for (let i = 1; i <= 3; i++) {
    startProcess(`node-${i}`, process.execPath, [join(root, needBuilt['consensus-node'])], {
      ...aws, ...tlsEnv(pki.files(`node-${i}`)), FLAGRAFT_NODE_ID: String(i), FLAGRAFT_LISTEN: nodeAddrs[i - 1], FLAGRAFT_PEER_LISTEN: peerAddrs[i - 1],
      FLAGRAFT_INITIAL_CLUSTER: initialCluster, FLAGRAFT_DATA_DIR: join(dataDir, `node-${i}`),
      FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: sqsUrl, FLAGRAFT_SNS_REGION: 'us-east-1',
      FLAGRAFT_EVENT_KEYS_FILE: eventKeysFile,
    });
  }

  // 3. Gateways, relay, dashboard. The gateways keep their shipped per-token
  // rate limits (README); the environment passes through, so a load test run
  // against this stack sets FLAGRAFT_RATE_LIMIT_*_PER_SEC=0 to turn them off.
  const publicUrl = `https://localhost:${ports.https}`;
  const caddyBin = opts['no-caddy'] ? undefined : findCaddy();
  if (built.gateway) for (const i of [1, 2]) {
    startProcess(`gateway-${i}`, process.execPath, [join(root, needBuilt.gateway)], {
      ...common, FLAGRAFT_GATEWAY_HOST: '127.0.0.1', FLAGRAFT_GATEWAY_PORT: String(ports[`gateway${i}`]),
      FLAGRAFT_GATEWAY_ID: `gateway-${i}`, FLAGRAFT_CLUSTER_ENDPOINTS: nodeAddrs.join(','), ...tlsEnv(pki.files(`gateway-gw-${i}`)),
      // Caddy's health checks would fill the terminal; FLAGRAFT_ACCESS_LOG=all shows every request.
      FLAGRAFT_ACCESS_LOG: process.env.FLAGRAFT_ACCESS_LOG ?? 'errors',
      ...(caddyBin ? { FLAGRAFT_PUBLIC_URL: publicUrl } : {}),
    });
  }
  if (built['notification-relay']) startProcess('relay', process.execPath, [join(root, needBuilt['notification-relay'])], {
    ...common, ...aws, FLAGRAFT_RELAY_HOST: '127.0.0.1', FLAGRAFT_RELAY_PORT: String(ports.relay),
    FLAGRAFT_AWS_ENDPOINT: sqsUrl, FLAGRAFT_AWS_REGION: 'us-east-1', FLAGRAFT_RELAY_CREATE_RESOURCES: '1',
    FLAGRAFT_RELAY_TOPIC_ARN: topicArn, FLAGRAFT_RELAY_QUEUE_NAME: 'flagraft-relay-1',
    FLAGRAFT_EVENT_KEYS_FILE: eventKeysFile,
  });
  const gatewayUrls = [1, 2].map((i) => `http://127.0.0.1:${ports[`gateway${i}`]}`);
  // 4. Caddy in front, with the production Caddyfile and local settings.
  const caddyDir = join(dataDir, 'caddy');
  const caFile = join(caddyDir, 'pki', 'authorities', 'local', 'root.crt');
  if (caddyBin) {
    mkdirSync(caddyDir, { recursive: true });
    // The access log is for its owner only (it names clients and paths): made
    // 0600 here (and older files of a folder from before narrowed), and Caddy
    // runs with umask 077 so the files it rolls to are 0600 too (Caddy 2.6
    // has no file mode option).
    const accessLog = join(caddyDir, 'access.log');
    closeSync(openSync(accessLog, 'a', 0o600));
    for (const f of readdirSync(caddyDir)) if (/^access.*\.log(\.gz)?$/.test(f)) chmodSync(join(caddyDir, f), 0o600);
    startProcess('caddy', '/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', caddyBin, 'run', '--config', join(root, 'Caddyfile'), '--adapter', 'caddyfile'], {
      HOME: caddyDir, XDG_DATA_HOME: caddyDir, XDG_CONFIG_HOME: caddyDir,
      FLAGRAFT_DOMAIN: 'localhost', FLAGRAFT_CADDY_TLS: 'internal', FLAGRAFT_CADDY_ADMIN: 'off',
      FLAGRAFT_CADDY_BIND: '127.0.0.1', FLAGRAFT_CADDY_HTTP_PORT: String(ports.http), FLAGRAFT_CADDY_HTTPS_PORT: String(ports.https),
      FLAGRAFT_CADDY_REDIRECT_PORT: String(ports.https),
      FLAGRAFT_CADDY_STORAGE: caddyDir, FLAGRAFT_CADDY_ACCESS_LOG: accessLog,
      FLAGRAFT_UPSTREAM_GATEWAYS: gatewayUrls.map((u) => u.replace('http://', '')).join(' '),
      FLAGRAFT_UPSTREAM_RELAYS: `127.0.0.1:${ports.relay}`, FLAGRAFT_UPSTREAM_DASHBOARD: `127.0.0.1:${ports.dashboard}`,
    });
  } else {
    say(opts['no-caddy'] ? 'Caddy disabled (--no-caddy): no HTTPS entry point' : 'Caddy is not installed (Debian: apt-get install caddy): running without the HTTPS entry point; use the gateway and dashboard URLs below');
  }

  // The dashboard reaches the gateways through Caddy, trusting its CA, which
  // Caddy creates at its first start: wait for the file.
  let dashboardGateway = gatewayUrls[0];
  if (caddyBin) {
    await tk.waitFor(`Caddy's CA (${caFile})`, { timeoutMs: READY_TIMEOUT_MS, everyMs: POLL_INTERVAL_MS }, () => existsSync(caFile) || shuttingDown).catch(() => {});
    if (existsSync(caFile)) dashboardGateway = publicUrl;
  }
  if (built.dashboard) startProcess('dashboard', process.execPath, [join(root, needBuilt.dashboard)], {
    ...common, FLAGRAFT_DASHBOARD_HOST: '127.0.0.1', FLAGRAFT_DASHBOARD_PORT: String(ports.dashboard),
    // Through Caddy when it runs, so the dashboard also survives a dead gateway.
    FLAGRAFT_GATEWAY_URL: dashboardGateway,
    ...(caddyBin ? { NODE_EXTRA_CA_CERTS: caFile } : {}), FLAGRAFT_RELAY_URL: `http://127.0.0.1:${ports.relay}`,
    FLAGRAFT_DASHBOARD_COOKIE_SECRET: secrets.cookieSecret, FLAGRAFT_DASHBOARD_COOKIE_SECURE: caddyBin ? '1' : '0',
    FLAGRAFT_DASHBOARD_FEED_TOKEN: secrets.dashboardFeedToken,
    // Qwik City's CSRF check compares Origin with the server's own origin:
    // behind Caddy that is https, which Caddy says in X-Forwarded-Proto.
    PROTOCOL_HEADER: 'x-forwarded-proto',
  }, join(root, 'apps', 'dashboard'));

  // Wait until everything answers.
  const checks = [
    ...(built.gateway ? gatewayUrls.map((u, i) => ({ name: `gateway-${i + 1}`, url: `${u}/ready` })) : []),
    ...(built['notification-relay'] ? [{ name: 'relay', url: `http://127.0.0.1:${ports.relay}/ready` }] : []),
    ...(built.dashboard ? [{ name: 'dashboard', url: `http://127.0.0.1:${ports.dashboard}/health` }] : []),
    ...(caddyBin && built.gateway ? [{ name: 'caddy', url: `${publicUrl}/api/v1/flags`, caddy: true }] : []),
  ];
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const c of checks) {
    let status = 0;
    let exited = false;
    const ready = await tk.waitFor(`${c.name}`, { timeoutMs: Math.max(0, deadline - Date.now()), everyMs: POLL_INTERVAL_MS }, async () => {
      if (shuttingDown) return true;
      if (procs.find((q) => q.name === c.name)?.exited) { exited = true; return true; }
      let ca;
      if (c.caddy) ca = existsSync(caFile) ? readFileSync(caFile) : undefined;
      // Through Caddy, any answer from the gateway (401 without a token) means the path works.
      status = c.caddy && !ca ? 0 : await probe(c.url, ca);
      return c.caddy ? status > 0 && status < 500 : status === 200;
    }).catch(() => false);
    if (shuttingDown) return;
    if (exited) return failStart(`${c.name} exited during start-up`);
    if (!ready) return failStart(`${c.name} not ready after ${READY_TIMEOUT_MS} ms (${c.url} answered ${status || 'nothing'})`);
  }

  const adminTokenFromEnv = newToken && newToken === process.env.FLAGRAFT_ADMIN_TOKEN;
  if (opts.demo) await seedDemo(gatewayUrls[0], newToken ?? process.env.FLAGRAFT_ADMIN_TOKEN ?? '').catch((e) => say(`demo: ${e.message}`));

  const info = {
    pid: process.pid, dataDir, clusterId: pki.clusterId, pkiDir: pki.dir, peers: peerAddrs,
    url: caddyBin ? publicUrl : gatewayUrls[0], caFile: caddyBin ? caFile : undefined,
    gateways: gatewayUrls, relay: `http://127.0.0.1:${ports.relay}`, dashboard: `http://127.0.0.1:${ports.dashboard}`,
    nodes: nodeAddrs, sqs: sqsUrl, topicArn, ports,
    processes: procs.map((p) => ({ name: p.name, pid: p.pid })),
  };
  writeJson(join(dataDir, 'stack.json'), info);
  // From now on a process that exits is restarted, and stack.json names its new PID.
  restartsEnabled = true;
  onRestarted = () => writeJson(join(dataDir, 'stack.json'), { ...info, processes: procs.map((p) => ({ name: p.name, pid: p.pid })) });

  const lines = [
    '',
    'flagraft is running.',
    caddyBin ? `  Dashboard + API   ${publicUrl}   (Caddy, TLS from its local CA)` : `  Dashboard         ${info.dashboard}`,
    `  API (gateways)    ${gatewayUrls.join('  ')}`,
    `  OFREP             ${info.url}/ofrep/v1/evaluate/flags/<key>`,
    `  Live WebSocket    ${caddyBin ? publicUrl.replace('https', 'wss') : info.relay.replace('http', 'ws')}/ws`,
    `  Consensus nodes   ${nodeAddrs.join('  ')}   (cluster ${pki.clusterId}; Raft on ${peerAddrs.map((a) => a.split(':')[1]).join(', ')}; mutual TLS)`,
    `  Certificates      ${pki.dir}   (rotate: flagraft certs rotate --dir ${pki.dir}, then kill -HUP the nodes and gateways)`,
    `  Data              ${dataDir}   (kept across restarts; --fresh wipes it)`,
    caddyBin ? `  Caddy root CA     ${caFile}` : '',
    '',
    ...(newToken && !adminTokenFromEnv
      ? ['  Admin token (shown once, only its hash is stored):', `      ${newToken}`]
      : [newToken ? '  Admin token: the one given in FLAGRAFT_ADMIN_TOKEN' : '  Admin token: shown at the first start (make another with --new-admin-token)']),
    '  Use it from a shell:',
    `    export FLAGRAFT_URL=${info.url} FLAGRAFT_TOKEN=<admin token>${caddyBin ? ` NODE_EXTRA_CA_CERTS=${caFile}` : ''}`,
    `    alias flagraft="node ${join(root, 'apps', 'cli', 'dist', 'main.js')}"; flagraft flags list`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  for (const l of lines.filter((x) => x !== '')) say(l);
}

async function failStart(msg) {
  say(`start-up failed: ${msg}`);
  for (const p of procs.filter((q) => q.lastLines.length)) say(`  last lines of ${p.name}:\n${p.lastLines.map((l) => `    ${l}`).join('\n')}`);
  await shutdown(1);
}

main().catch(async (err) => {
  say(`start-up failed: ${err.stack ?? err}`);
  await shutdown(1);
});
