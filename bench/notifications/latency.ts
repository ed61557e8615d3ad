// Latency from a write's acknowledgement (the cluster client's putFlag
// resolving) to its receipt by a client, over N sequential writes to a real
// 3-node cluster:
//   - via SNS/SQS: outbox -> fauxqs SNS -> SQS -> relay process -> WebSocket
//   - via the gateway's SSE stream (/api/v1/stream), when apps/gateway is built
// Both receivers watch the same writes in one run. Ack and receipt are both
// timed in this process with performance.now().
//   node --import tsx bench/notifications/latency.ts [writes=1000] [warmup=50]
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import {
  EVENT_KEYS_FILE, createClusterClient, hashToken, startEmulator, startLocalCluster, uniqueName, WebSocket,
} from '../../apps/notification-relay/test/bench-deps.js';
import { GATEWAY_MAIN, RELAY_MAIN, percentiles, spawnJson, waitUntil, type Proc } from './common.js';

const WRITES = Number(process.argv[2] ?? 1000);
const WARMUP = Number(process.argv[3] ?? 50);
const TOKEN = 'bench-reader-token';
const TOKENS = JSON.stringify([{ name: 'bench', role: 'reader', sha256: hashToken(TOKEN) }]);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const emu = await startEmulator();
const procs: Proc[] = [];
let cluster: Awaited<ReturnType<typeof startLocalCluster>> | undefined;
let client: ReturnType<typeof createClusterClient> | undefined;
let ws: WebSocket | undefined;
const sseAbort = new AbortController();
try {
  const relay = spawnJson(RELAY_MAIN, {
    FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_AWS_ENDPOINT: emu.endpoint, FLAGRAFT_RELAY_QUEUE_NAME: uniqueName('lat-q'),
    FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_TOPIC_NAME: uniqueName('lat-topic'), FLAGRAFT_TOKENS: TOKENS,
    FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE,
  });
  procs.push(relay);
  await waitUntil(() => relay.lines.some((l) => l.msg === 'relay listening') || relay.p.exitCode !== null, 'relay start', 30_000);
  const listening = relay.lines.find((l) => l.msg === 'relay listening');
  if (!listening) throw new Error('relay did not start');
  const topicArn = relay.lines.find((l) => String(l.msg).startsWith('provisioned')).topicArn as string;

  cluster = await startLocalCluster({ size: 3, env: { FLAGRAFT_SNS_TOPIC_ARN: topicArn, FLAGRAFT_SNS_ENDPOINT: emu.endpoint, FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE } });
  client = createClusterClient({ ...cluster.clientOptions() });

  const wsAt = new Map<number, number>();
  ws = new WebSocket(`ws://127.0.0.1:${listening.port}/ws`, { headers: { authorization: `Bearer ${TOKEN}` } });
  ws.on('message', (d) => {
    const now = performance.now();
    const m = JSON.parse(d.toString());
    if (m.type === 'change' && !wsAt.has(m.event.revision)) wsAt.set(m.event.revision, now);
  });
  await new Promise<void>((res, rej) => { ws!.once('open', () => res()); ws!.once('error', rej); });

  // The gateway's SSE stream, if the gateway is built.
  const sseAt = new Map<number, number>();
  let sseNote = 'skipped: apps/gateway/dist/main.js not built';
  if (existsSync(GATEWAY_MAIN)) {
    const port = await freePort();
    const gw = spawnJson(GATEWAY_MAIN, {
      FLAGRAFT_GATEWAY_PORT: String(port), FLAGRAFT_CLUSTER_ENDPOINTS: cluster.endpoints.join(','),
      FLAGRAFT_CLUSTER_ID: cluster.clusterId, FLAGRAFT_TOKENS: TOKENS,
      // Rate limits off, like every benchmark (only the SSE stream is used here,
      // which is never limited; explicit so a later change cannot throttle it silently).
      FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC: '0', FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC: '0',
    });
    procs.push(gw);
    try {
      await waitUntil(() => gw.p.exitCode !== null || gw.lines.some((l) => /listening/i.test(String(l.msg))), 'gateway start', 30_000);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: sseAbort.signal });
      if (!res.ok || !res.body) throw new Error(`SSE: HTTP ${res.status}`);
      sseNote = 'ok';
      void (async () => {
        const dec = new TextDecoder();
        let buf = '';
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            const now = performance.now();
            buf += dec.decode(chunk, { stream: true });
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (!line.startsWith('data:')) continue;
              try {
                const e = JSON.parse(line.slice(5));
                if (typeof e.revision === 'number' && !sseAt.has(e.revision)) sseAt.set(e.revision, now);
              } catch { /* heartbeat or other */ }
            }
          }
        } catch { /* aborted at the end */ }
      })();
    } catch (err) {
      sseNote = `skipped: ${(err as Error).message}`;
    }
  }

  const ackAt = new Map<number, number>();
  const startAt = new Map<number, number>();
  const flag = (i: number) => ({ key: `lat-${i % 20}`, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: i % 2 ? 'on' : 'off', enabled: true, rules: [] });
  for (let i = 0; i < WARMUP + WRITES; i++) {
    const t0 = performance.now();
    const { revision } = await client.putFlag(flag(i), { actor: 'bench' });
    const now = performance.now();
    if (i >= WARMUP) { ackAt.set(revision, now); startAt.set(revision, t0); }
    // One write at a time, and the next only after this one arrived over SNS/SQS,
    // so each figure is one change's path and not a queue behind earlier ones.
    await waitUntil(() => wsAt.has(revision), `revision ${revision} over WebSocket`, 30_000);
  }
  if (sseNote === 'ok') await waitUntil(() => [...ackAt.keys()].every((r) => sseAt.has(r)), 'all writes over SSE', 30_000).catch((e) => { sseNote = `incomplete: ${e.message}`; });
  const lat = (at: Map<number, number>, from = ackAt) => [...from].filter(([r]) => at.has(r)).map(([r, t]) => at.get(r)! - t);
  const ws1 = lat(wsAt);
  const writeMs = [...ackAt].map(([r, t]) => t - startAt.get(r)!);
  const out: Record<string, unknown> = {
    bench: 'write-ack-to-client-latency-ms', writes: WRITES, warmup: WARMUP,
    // Negative = the event reached the client before the writer had its gRPC answer.
    viaSnsSqsWebSocket: { ...percentiles(ws1), receivedBeforeAck: ws1.filter((x) => x < 0).length },
    viaSnsSqsWebSocketFromWriteStart: percentiles(lat(wsAt, startAt)),
    writeAckMs: percentiles(writeMs),
  };
  if (sseNote === 'ok') {
    const s = lat(sseAt);
    out.viaGatewaySse = { ...percentiles(s), receivedBeforeAck: s.filter((x) => x < 0).length };
    out.viaGatewaySseFromWriteStart = percentiles(lat(sseAt, startAt));
  } else out.viaGatewaySse = sseNote;
  out.loadAverage = (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(JSON.stringify(out, null, 1));
} finally {
  sseAbort.abort();
  ws?.terminate();
  client?.close();
  for (const p of procs.reverse()) await p.stop();
  await cluster?.stop();
  await emu.stop();
}
