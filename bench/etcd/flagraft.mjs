// Target adapter for the etcd-baseline load generator (shared/bench/etcd-baseline,
// see README.md here): the same load against a 3-node flagraft cluster.
//
// connect() starts a fresh cluster (flagraft-cluster.mjs) unless
// FLAGRAFT_BENCH_KEEP=1 and one is running. Each key is stored as a string
// flag whose single variant holds the harness's ~100-byte JSON value. The
// client is @flagraft/cluster-client: writes go to the leader (followers
// answer NOT_LEADER + address), reads are linearizable (ReadIndex).
// Mutual TLS unless FLAGRAFT_BENCH_TLS=0 (flagraft-cluster.mjs).
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { BENCH_DIR, MEMBERS, REPO, TLS, clientSecurity, dataDirBytes, pidOf, startAll, startMember } from './flagraft-cluster.mjs';

const { createClusterClient } = await import(path.join(REPO, 'packages', 'cluster-client', 'dist', 'index.js'));

const flagOf = (key, value) => ({ key, type: 'string', variants: { v: value }, defaultVariant: 'v', enabled: true, rules: [] });

export function createTarget() {
  let timeoutMs = 5000;
  let client = null;
  const single = new Map();
  const endpoints = MEMBERS.map((m) => m.address);
  let security;
  const newClient = (eps, t = timeoutMs) => createClusterClient({ endpoints: eps, ...security, requestTimeoutMs: t, retryDeadlineMs: t });
  const one = (name) => {
    let c = single.get(name);
    if (!c) { c = newClient([MEMBERS.find((m) => m.name === name).address], 2000); single.set(name, c); }
    return c;
  };
  const reset = (name) => { single.get(name)?.close(); single.delete(name); };
  const clients = new Map(); // per-timeout clients (the harness changes deadlines per phase)
  const clientFor = (t) => {
    let c = clients.get(t);
    if (!c) { c = newClient(endpoints, t); clients.set(t, c); }
    return c;
  };

  return {
    name: 'flagraft',
    describe() {
      return { name: 'flagraft', endpoints, benchDir: BENCH_DIR, transport: TLS ? 'mutual TLS (ECDSA P-256)' : 'plain text (FLAGRAFT_BENCH_TLS=0)', readConsistency: 'linearizable (ReadIndex, batched)', writes: 'fsync (SQLite WAL, synchronous=FULL) on a majority before ack' };
    },
    async connect() {
      security = await clientSecurity();
      if (process.env.FLAGRAFT_BENCH_KEEP !== '1' || MEMBERS.some((m) => !pidOf(m.name))) await startAll();
      client = clientFor(timeoutMs);
      await this.waitHealthy(60000);
    },
    setRequestTimeout(ms) { timeoutMs = ms; client = clientFor(ms); },
    async put(key, value, opts) {
      const c = opts && opts.timeoutMs ? clientFor(opts.timeoutMs) : client;
      await c.putFlag(flagOf(key, value), { actor: 'bench' });
    },
    async get(key) {
      const f = await client.getFlag(key);
      return f ? f.flag.variants.v : null;
    },
    async getPrefix(prefix, { via } = {}) {
      const c = via ? one(via) : clientFor(30000);
      const out = new Map();
      let pageToken;
      do {
        const page = await c.listFlags({ prefix, limit: 1000, pageToken });
        for (const f of page.flags) out.set(f.flag.key, f.flag.variants.v);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return out;
    },
    async deletePrefix(prefix) {
      const c = clientFor(30000);
      for (;;) {
        const page = await c.listFlags({ prefix, limit: 100 });
        if (!page.flags.length) return;
        await c.batch(page.flags.map((f) => ({ op: 'deleteFlag', key: f.flag.key })), { actor: 'bench' });
      }
    },
    async close() {
      for (const c of clients.values()) c.close();
      for (const c of single.values()) c.close();
      clients.clear();
      single.clear();
    },
    members() { return MEMBERS.map((m) => m.name); },
    processMarkers() { return [BENCH_DIR]; },
    serverPids() {
      return Object.fromEntries(MEMBERS.map((m) => [m.name, pidOf(m.name)]).filter(([, p]) => p));
    },
    dataDirBytes() { return Object.fromEntries(MEMBERS.map((m) => [m.name, dataDirBytes(m.name)])); },
    async leader() {
      const res = await Promise.allSettled(MEMBERS.map((m) => one(m.name).status({ endpoint: m.address })));
      const ok = res.filter((r) => r.status === 'fulfilled').map((r) => r.value);
      const votes = new Map();
      for (const s of ok) if (s.leaderId) votes.set(s.leaderId, (votes.get(s.leaderId) || 0) + 1);
      const [leaderId] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] || [];
      const me = ok.find((s) => s.nodeId === leaderId && s.role === 'leader');
      if (!me) return null;
      return { name: `n${leaderId}`, raftTerm: me.term, agreeing: votes.get(leaderId), answered: ok.length };
    },
    async leaderElectedAt(name, term) {
      const lines = readFileSync(path.join(BENCH_DIR, `${name}.log`), 'utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        if (!lines[i].includes('"raft: became leader"')) continue;
        try {
          const rec = JSON.parse(lines[i]);
          if (rec.term === term) return Date.parse(rec.t);
        } catch { /* a torn line after SIGKILL */ }
      }
      return null;
    },
    async killMember(name) {
      const pid = pidOf(name);
      if (!pid) throw new Error(`no live PID for ${name}`);
      process.kill(pid, 'SIGKILL');
      reset(name);
      return pid;
    },
    async restartMember(name) {
      reset(name);
      return startMember(name);
    },
    // every node answers Status, all agree on one leader, each serves a linearizable read
    async waitHealthy(timeoutMs2 = 30000) {
      const until = Date.now() + timeoutMs2;
      let last = '';
      while (Date.now() < until) {
        try {
          const st = await Promise.all(MEMBERS.map((m) => one(m.name).status({ endpoint: m.address })));
          const leaders = new Set(st.map((s) => s.leaderId));
          if (leaders.size === 1 && !leaders.has(0)) {
            await Promise.all(MEMBERS.map((m) => one(m.name).getFlag('__bench_probe__')));
            return true;
          }
          last = `leaders disagree: ${[...leaders].join(',')}`;
        } catch (e) {
          last = e.message;
          for (const m of MEMBERS) reset(m.name);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`cluster not healthy within ${timeoutMs2} ms: ${last}`);
    },
  };
}
