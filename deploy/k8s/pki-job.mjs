// The Kubernetes certificate job (pki-job.yaml): keeps the cluster's PKI in
// Secrets. It runs in the consensus-node image, whose `node dist/certs.js` is
// `flagraft certs`: the PKI folder is rebuilt from the Secret flagraft-pki-ca,
// the action runs on it, and the Secrets are written back.
//
//   FLAGRAFT_PKI_ACTION   init (default: a new CA and cluster id the first time,
//                         then only missing certificates) | rotate | rotate-ca | drop-old-ca
//   FLAGRAFT_PKI_NODES    node ids 1..N that get certificates (default 5: the
//                         StatefulSet can grow to 5 without another run)
//   FLAGRAFT_PKI_NODE_DNS the nodes' DNS names, {i} = pod ordinal (node id - 1)
//
// Secrets (only this job's ServiceAccount may read flagraft-pki-ca, which holds the CA key):
//   flagraft-pki-ca       the whole folder          flagraft-pki-nodes    ca.crt, node-N.crt/.key
//   flagraft-pki-gateway  ca.crt, gateway-*.crt/.key flagraft-pki-admin   ca.crt, admin-*.crt/.key
// Kubernetes updates mounted Secrets in place; the nodes and gateways notice the
// changed files (FLAGRAFT_TLS_RELOAD_INTERVAL_MS) and reload without a restart.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
const SA = env.FLAGRAFT_K8S_SA_DIR ?? '/var/run/secrets/kubernetes.io/serviceaccount';
const API = env.FLAGRAFT_K8S_API ?? `https://${env.KUBERNETES_SERVICE_HOST}:${env.KUBERNETES_SERVICE_PORT}`;
const APP = env.FLAGRAFT_APP_DIR ?? '/app';
const ACTION = env.FLAGRAFT_PKI_ACTION || 'init';
const NODES = Number(env.FLAGRAFT_PKI_NODES || 5);
const NODE_DNS = env.FLAGRAFT_PKI_NODE_DNS || 'flagraft-node-{i}.flagraft-node';
/** Largest Secret Kubernetes accepts (bytes). */
const MAX_SECRET_BYTES = 1024 * 1024;

const fail = (msg) => { console.error(`pki-job: ${msg}`); process.exit(1); };
if (!['init', 'rotate', 'rotate-ca', 'drop-old-ca'].includes(ACTION)) fail(`FLAGRAFT_PKI_ACTION=${ACTION}: init, rotate, rotate-ca or drop-old-ca`);
if (!Number.isInteger(NODES) || NODES < 1 || NODES > 100) fail(`FLAGRAFT_PKI_NODES=${env.FLAGRAFT_PKI_NODES}: 1..100`);

const token = readFileSync(join(SA, 'token'), 'utf8').trim();
const namespace = env.FLAGRAFT_K8S_NAMESPACE ?? readFileSync(join(SA, 'namespace'), 'utf8').trim();
const ca = readFileSync(join(SA, 'ca.crt'));

function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, API), {
      method, ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      timeout: 30_000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const secretPath = (name) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets${name ? `/${encodeURIComponent(name)}` : ''}`;

async function getSecret(name) {
  const r = await api('GET', secretPath(name));
  if (r.status === 404) return undefined;
  if (r.status !== 200) fail(`reading Secret ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

async function putSecret(name, files) {
  const data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const size = Object.values(data).reduce((n, v) => n + v.length, 0);
  if (size > MAX_SECRET_BYTES) fail(`Secret ${name} would be ${size} bytes; Kubernetes takes at most ${MAX_SECRET_BYTES}`);
  const body = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, labels: { 'app.kubernetes.io/part-of': 'flagraft', 'app.kubernetes.io/component': 'pki' } }, data };
  const existing = await getSecret(name);
  const r = existing
    ? await api('PUT', secretPath(name), { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion } })
    : await api('POST', secretPath(), body);
  if (r.status !== 200 && r.status !== 201) fail(`writing Secret ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
}

function certs(args) {
  const r = spawnSync(process.execPath, ['dist/certs.js', ...args], { cwd: APP, encoding: 'utf8' });
  process.stdout.write(r.stdout ?? '');
  if (r.status !== 0) fail(`flagraft certs ${args.join(' ')}: ${r.stderr}`);
}

const dir = join(mkdtempSync(join(tmpdir(), 'flagraft-pki-')), 'pki');
try {
  const stored = await getSecret('flagraft-pki-ca');
  if (stored) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [k, v] of Object.entries(stored.data ?? {})) {
      if (!/^[\w.-]+$/.test(k)) fail(`Secret flagraft-pki-ca has an unexpected key ${JSON.stringify(k)}`);
      writeFileSync(join(dir, k), Buffer.from(v, 'base64'), { mode: k.endsWith('.key') ? 0o600 : 0o644 });
    }
  } else if (ACTION !== 'init') {
    fail(`no PKI yet (Secret flagraft-pki-ca): run the job with FLAGRAFT_PKI_ACTION=init first`);
  }
  const hosts = Array.from({ length: NODES }, (_, i) => ['--host', NODE_DNS.replaceAll('{i}', String(i))]).flat();
  if (ACTION === 'init') {
    certs(['init', '--dir', dir, '--if-missing', '--nodes', String(NODES), '--service', 'gateway:gateways', '--service', 'admin:ops', '--host', 'localhost', ...hosts]);
  } else {
    certs([ACTION, '--dir', dir]);
  }
  const all = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
  const pick = (re) => Object.fromEntries(Object.entries(all).filter(([k]) => k === 'ca.crt' || k === 'cluster-id' || re.test(k)));
  await putSecret('flagraft-pki-ca', all);
  await putSecret('flagraft-pki-nodes', pick(/^node-\d+\.(crt|key)$/));
  await putSecret('flagraft-pki-gateway', pick(/^gateway-[\w-]+\.(crt|key)$/));
  await putSecret('flagraft-pki-admin', pick(/^admin-[\w-]+\.(crt|key)$/));
  console.log(`pki-job: ${ACTION} done for cluster ${all['cluster-id'].toString().trim()} (Secrets flagraft-pki-ca, -nodes, -gateway, -admin in ${namespace})`);
} finally {
  rmSync(join(dir, '..'), { recursive: true, force: true });
}
