#!/usr/bin/env node
// A gateway (the build in argv[2], default apps/gateway/dist) in front of an
// in-memory cluster that commits instantly: what write-path.mjs measures is
// the gateway's own cost per write (HTTP, auth, body, validation, answer,
// following the change on its watch), without the nodes or gRPC.
// Prints {"port":N} once listening; stops on SIGTERM.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const gatewayDir = join(root, 'apps/gateway');
const dist = resolve(gatewayDir, process.argv[2] ?? 'dist');
const req = createRequire(join(gatewayDir, 'package.json'));
const { createGateway } = await import(pathToFileURL(join(dist, 'index.js')).href);
const { createTokenStore, hashToken } = await import(pathToFileURL(req.resolve('@flagraft/auth')).href);

const TOKEN = process.env.BENCH_TOKEN ?? 'write-path-token';
let revision = 1;
const flags = new Map();
const watchers = new Set();
const now = () => Date.now();
// As the real watch: the change reaches the gateway on its own stream, a little after the answer.
const publish = (change) => setImmediate(() => { for (const w of watchers) w.onChange(JSON.parse(JSON.stringify(change))); });
const cluster = {
  async putFlag(flag, o) {
    if (o.expectedRevision !== undefined && (flags.get(flag.key)?.modRevision ?? 0) !== o.expectedRevision) {
      throw Object.assign(new Error('revision mismatch'), { code: 'FAILED_PRECONDITION' });
    }
    const prev = flags.get(flag.key);
    const rev = ++revision;
    const stored = { flag, version: (prev?.version ?? 0) + 1, createRevision: prev?.createRevision ?? rev, modRevision: rev, updatedAt: new Date(now()).toISOString(), updatedBy: o.actor };
    flags.set(flag.key, stored);
    publish({ v: 1, revision: rev, kind: 'flag', key: flag.key, op: 'put', actor: o.actor, time: stored.updatedAt, flag: stored });
    return { revision: rev, flag: stored };
  },
  async getFlag(key) { return flags.get(key); },
  async snapshotAll() { return { revision, flags: [...flags.values()], segments: [] }; },
  watch(o) {
    const w = { onChange: o.onChange };
    watchers.add(w);
    return { close: () => watchers.delete(w) };
  },
  async status() { return { clusterId: 'mem', leaderId: 1, members: [], appliedIndex: revision }; },
  close() {},
};
for (const m of ['deleteFlag', 'putSegment', 'deleteSegment', 'batch', 'listFlags', 'listSegments', 'history', 'addLearner', 'promoteLearner', 'removeMember', 'transferLeader']) {
  cluster[m] = async () => { throw new Error(`${m}: not in the in-memory bench cluster`); };
}

const gw = createGateway({
  port: 0,
  cluster,
  clientId: 'write-path',
  tokens: createTokenStore([{ name: 'bench', role: 'admin', sha256: hashToken(TOKEN) }]),
  accessLog: process.env.BENCH_ACCESS_LOG ?? 'all',
  rateLimitWritesPerSec: 0,
  rateLimitEvaluationsPerSec: 0,
});
await gw.start();
await gw.waitUntilReady(10_000);
console.log(JSON.stringify({ port: gw.address().port }));
process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
