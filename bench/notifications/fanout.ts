// Relay fan-out capacity: N WebSocket clients connected to one relay process,
// E change events published to SNS (emulator) as fast as it takes them;
// reports events/s and messages/s delivered to all clients.
//   node --import tsx bench/notifications/fanout.ts [clients=1000] [events=2000]
import { EVENT_KEYS_FILE, ev, publish, startEmulator, uniqueName, WebSocket } from '../../apps/notification-relay/test/bench-deps.js';
import { spawnJson, waitUntil } from './common.js';
import { RELAY_MAIN } from './common.js';

const CLIENTS = Number(process.argv[2] ?? 1000);
const EVENTS = Number(process.argv[3] ?? 2000);

const emu = await startEmulator();
const topic = uniqueName('bench-fanout');
const relay = spawnJson(RELAY_MAIN, {
  FLAGRAFT_RELAY_PORT: '0', FLAGRAFT_AWS_ENDPOINT: emu.endpoint, FLAGRAFT_RELAY_QUEUE_NAME: uniqueName('bench-q'),
  FLAGRAFT_RELAY_CREATE_RESOURCES: 'true', FLAGRAFT_RELAY_TOPIC_NAME: topic, FLAGRAFT_RELAY_AUTH: 'none', FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE,
  FLAGRAFT_RELAY_WAIT_TIME_SECONDS: '1', FLAGRAFT_RELAY_MAX_CLIENTS: String(CLIENTS + 10),
  // Clients in this process read as fast as one shared core allows; give them room.
  FLAGRAFT_RELAY_MAX_CLIENT_BUFFER_BYTES: String(16 * 1024 * 1024),
});
const sockets: WebSocket[] = [];
try {
  await waitUntil(() => relay.lines.some((l) => l.msg === 'relay listening') || relay.p.exitCode !== null, 'relay start', 20_000);
  const listening = relay.lines.find((l) => l.msg === 'relay listening');
  if (!listening) throw new Error('relay did not start');
  const topicArn = relay.lines.find((l) => String(l.msg).startsWith('provisioned')).topicArn as string;
  const url = `ws://127.0.0.1:${listening.port}/ws`;
  const counts = new Array<number>(CLIENTS).fill(0);
  let closed = 0;
  for (let i = 0; i < CLIENTS; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, (_, j) => new Promise<void>((res, rej) => {
      const idx = i + j;
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on('message', () => { counts[idx]!++; }); // the first message is hello
      ws.once('open', () => res());
      ws.once('error', rej);
      ws.on('close', () => { closed++; });
      sockets.push(ws);
    })));
  }
  await waitUntil(() => counts.every((c) => c >= 1), 'hello on every client', 30_000);
  const events = Array.from({ length: EVENTS }, (_, i) => ev(i + 2, `bench-${i % 50}`, i + 1));
  const cpu0 = process.cpuUsage();
  const relayCpu0 = relay.cpuSeconds();
  const t0 = performance.now();
  let publishedAt = 0;
  void publish(emu.sns, topicArn, events).then(() => { publishedAt = performance.now(); });
  await waitUntil(() => counts.every((c) => c >= EVENTS + 1) || closed > 0, 'every client got every event', 600_000);
  const t1 = performance.now();
  if (closed > 0) throw new Error(`${closed} clients were disconnected (slow consumer?)`);
  const secs = (t1 - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const relayCpu = relay.cpuSeconds() - relayCpu0;
  console.log(JSON.stringify({
    bench: 'relay-fanout', clients: CLIENTS, events: EVENTS,
    seconds: Math.round(secs * 100) / 100,
    publishSeconds: Math.round((publishedAt - t0) / 10) / 100,
    eventsPerSecondToAllClients: Math.round(EVENTS / secs),
    messagesPerSecond: Math.round((EVENTS * CLIENTS) / secs),
    // CPU spent: the relay process, and this process (clients + emulator + publisher).
    relayCpuSeconds: Math.round(relayCpu * 100) / 100,
    relayMessagesPerCpuSecond: Math.round((EVENTS * CLIENTS) / relayCpu),
    benchProcessCpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
  }));
} finally {
  for (const s of sockets) s.terminate();
  await relay.stop();
  await emu.stop();
}
