import { SNSClient, PublishBatchCommand, PublishCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { WebSocket } from 'ws';
import { EventKeyRing, EventKeySet, createTokenStore, hashToken, signEvent, EVENT_SIGNATURE_ATTRIBUTE } from '@flagraft/auth';
import type { ChangeEvent, ResetMarker } from '../src/index.js';
import { createRelay, type Relay, type RelayOptions } from '../src/index.js';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { spawnProcess, startEmulator as startLoopbackEmulator, waitFor as tkWaitFor, type Emulator } from '@flagraft/testkit';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGION = 'us-east-1';
export const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

export const TOKENS = { reader: 'reader-secret', evaluator: 'eval-secret', admin: 'admin-secret' };
export const tokenStore = () => createTokenStore([
  { name: 'rita', role: 'reader', sha256: hashToken(TOKENS.reader) },
  { name: 'eve', role: 'evaluator', sha256: hashToken(TOKENS.evaluator) },
  { name: 'ada', role: 'admin', sha256: hashToken(TOKENS.admin) },
]);

/**
 * The event keys of these tests: a keys file (for relay processes and
 * clusters: FLAGRAFT_EVENT_KEYS_FILE) whose active key `test-1` signs what
 * publish() sends, and the same keys as a ring (for in-process relays).
 */
const keysDir = mkdtempSync(join(tmpdir(), 'relay-test-keys-'));
process.once('exit', () => rmSync(keysDir, { recursive: true, force: true }));
let keyFiles = 0;
/** Writes a keys file: `active` signs (nodes), every key in `secrets` verifies (relays). */
export function writeKeysFile(active: string | undefined, secrets: Record<string, string>, file = join(keysDir, `keys-${keyFiles++}.json`)): string {
  // Written aside and renamed over: a reader never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify({ v: 1, ...(active ? { active } : {}), keys: Object.entries(secrets).map(([id, secret]) => ({ id, secret })) }), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}
export const newSecret = () => randomBytes(32).toString('base64');
export const TEST_SECRET = newSecret();
export const EVENT_KEYS_FILE = writeKeysFile('test-1', { 'test-1': TEST_SECRET });
export const eventKeys = () => new EventKeyRing(EventKeySet.load(EVENT_KEYS_FILE));
const SIGNER = eventKeys();

type Attrs = Record<string, { DataType: string; StringValue: string }>;
/** How publish() signs: with the test key now (default), not at all, with another ring, or at another time. */
export interface SignOptions { sign?: 'none' | EventKeyRing; signedAtMs?: number }
/** The attributes with `flagraft-sig` added, as the outbox makes them. */
export function signAttributes(body: string, attrs: Attrs, opts: SignOptions = {}): Attrs {
  if (opts.sign === 'none') return attrs;
  const lookup = (n: string) => (Object.hasOwn(attrs, n) ? { type: attrs[n]!.DataType, value: attrs[n]!.StringValue } : undefined);
  const sig = signEvent(opts.sign ?? SIGNER, body, lookup, opts.signedAtMs ?? Date.now());
  return { ...attrs, [EVENT_SIGNATURE_ATTRIBUTE]: { DataType: 'String', StringValue: sig } };
}

export async function startEmulator(): Promise<{ server: Emulator; endpoint: string; sns: SNSClient; sqs: SQSClient; stop(): Promise<void> }> {
  const server = await startLoopbackEmulator();
  const endpoint = `http://127.0.0.1:${server.port}`;
  const sns = new SNSClient({ endpoint, region: REGION, credentials: CREDS });
  const sqs = new SQSClient({ endpoint, region: REGION, credentials: CREDS });
  return { server, endpoint, sns, sqs, async stop() { sns.destroy(); sqs.destroy(); await server.stop(); } };
}

let uniq = 0;
export const uniqueName = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${uniq++}`;

/**
 * A put event as the flagraft outbox would publish it (chained when
 * `prevRevision` is given): a boolean flag, or with `kind: 'segment'` an
 * empty segment named `key`; `description` pads the flag's definition.
 */
export function ev(revision: number, key: string, prevRevision?: number, opts: { kind?: 'flag' | 'segment'; description?: string } = {}): ChangeEvent {
  const time = new Date().toISOString();
  const meta = { createRevision: revision, modRevision: revision, version: 1, updatedAt: 0, updatedBy: 'test' };
  const e: ChangeEvent = opts.kind === 'segment'
    ? { v: 1, revision, kind: 'segment', key, op: 'put', segment: { segment: { name: key, conditions: [] }, ...meta }, actor: 'test', time }
    : {
      v: 1, revision, kind: 'flag', key, op: 'put',
      flag: { flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: [], description: opts.description }, ...meta },
      actor: 'test', time,
    };
  if (prevRevision !== undefined) Object.assign(e, { prevRevision, part: 0, parts: 1 });
  return e;
}

/** Publishes events as the outbox does (attributes, FIFO ids), signed with the test key unless `opts` says otherwise. */
export async function publish(sns: SNSClient, topicArn: string, events: ChangeEvent[], opts: SignOptions = {}): Promise<void> {
  const fifo = topicArn.endsWith('.fifo');
  for (let i = 0; i < events.length; i += 10) {
    const chunk = events.slice(i, i + 10);
    const out = await sns.send(new PublishBatchCommand({
      TopicArn: topicArn,
      PublishBatchRequestEntries: chunk.map((e, j) => ({
        Id: String(j), Message: JSON.stringify(e),
        MessageAttributes: signAttributes(JSON.stringify(e), {
          key: { DataType: 'String', StringValue: e.key }, op: { DataType: 'String', StringValue: e.op },
          revision: { DataType: 'Number', StringValue: String(e.revision) }, kind: { DataType: 'String', StringValue: e.kind },
        }, opts),
        ...(fifo ? { MessageGroupId: `${e.kind}:${e.key}`, MessageDeduplicationId: `${e.revision}.${e.part ?? 0}.${Math.random()}` } : {}),
      })),
    }));
    if ((out.Failed ?? []).length > 0) throw new Error(`publish failed: ${JSON.stringify(out.Failed)}`);
  }
}

/** A reset marker as the flagraft outbox publishes it after a restore. */
export function resetMarker(revision: number, prevRevision: number): ResetMarker {
  return { v: 1, kind: 'reset', reason: 'restore', revision, prevRevision, part: 0, parts: 1, actor: 'flagraft', time: new Date().toISOString() };
}

/** Publishes markers with the outbox's attributes (no key: kind = op = "reset", reason). */
export async function publishMarkers(sns: SNSClient, topicArn: string, markers: ResetMarker[], opts: SignOptions = {}): Promise<void> {
  const fifo = topicArn.endsWith('.fifo');
  const out = await sns.send(new PublishBatchCommand({
    TopicArn: topicArn,
    PublishBatchRequestEntries: markers.map((m, j) => ({
      Id: String(j), Message: JSON.stringify(m),
      MessageAttributes: signAttributes(JSON.stringify(m), {
        kind: { DataType: 'String', StringValue: 'reset' }, op: { DataType: 'String', StringValue: 'reset' },
        reason: { DataType: 'String', StringValue: m.reason }, revision: { DataType: 'Number', StringValue: String(m.revision) },
      }, opts),
      ...(fifo ? { MessageGroupId: 'flagraft:reset', MessageDeduplicationId: `${m.revision}.${Math.random()}` } : {}),
    })),
  }));
  if ((out.Failed ?? []).length > 0) throw new Error(`publish failed: ${JSON.stringify(out.Failed)}`);
}

/** Publishes any text, with whatever attributes are given (none: an unsigned message). */
export async function publishRaw(sns: SNSClient, topicArn: string, message: string, attrs?: Attrs): Promise<void> {
  await sns.send(new PublishCommand({ TopicArn: topicArn, Message: message, MessageAttributes: attrs }));
}

/** Polls `cond` until it is true or the deadline passes (then throws with `what`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  await tkWaitFor(what, { timeoutMs, everyMs, retryErrors: false }, cond);
}

export interface TestClient {
  ws: WebSocket;
  messages: any[];
  changes(): ChangeEvent[];
  closed: { code: number; reason: string } | undefined;
  opened: Promise<void>;
  close(): Promise<void>;
}

/** A real WebSocket client that records everything it receives. */
export function connect(url: string, opts: { token?: string; headers?: Record<string, string>; autoPong?: boolean } = {}): TestClient {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const ws = new WebSocket(url, { headers, autoPong: opts.autoPong ?? true });
  const c: TestClient = {
    ws, messages: [], closed: undefined,
    changes: () => c.messages.filter((m) => m.type === 'change').map((m) => m.event),
    opened: new Promise((res, rej) => { ws.once('open', () => res()); ws.once('error', rej); ws.once('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`))); }),
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((res) => { ws.once('close', () => res()); ws.terminate(); });
    },
  };
  ws.on('message', (d) => c.messages.push(JSON.parse(d.toString())));
  ws.on('close', (code, reason) => { c.closed = { code, reason: reason.toString() }; });
  ws.on('error', () => {});
  return c;
}

/** The HTTP status of a refused upgrade. */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, r) => { res(r.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { ws.terminate(); res(101); });
    ws.on('error', (e) => rej(e));
  });
}

export interface RelayFixture { relay: Relay; topicArn: string; queueName: string; wsUrl: string; logs: any[] }

/** A relay on a free port with its own topic, queue and DLQ created by the provision option. */
export async function startRelay(endpoint: string, opts: Partial<RelayOptions> & { topicArn?: string; queueName?: string } = {}): Promise<RelayFixture> {
  const logs: any[] = [];
  const queueName = opts.queueName ?? uniqueName('relayq');
  const { topicArn, ...rest } = opts;
  const relay = createRelay({
    host: '127.0.0.1', port: 0, aws: { region: REGION, endpoint, credentials: CREDS }, auth: tokenStore(), eventKeys: eventKeys(),
    queueName, waitTimeSeconds: 1, pollers: 3, processMetrics: false,
    provision: { ...(topicArn ? { topicArn } : { topicName: uniqueName('topic') }), maxReceiveCount: 2, rawDelivery: false },
    log: (level, msg, fields) => logs.push({ level, msg, ...fields }),
    ...rest,
  });
  await relay.start();
  const arn = topicArn ?? await findTopicArn(relay, logs);
  return { relay, topicArn: arn, queueName, wsUrl: `ws://127.0.0.1:${relay.address.port}/ws`, logs };
}

async function findTopicArn(_relay: Relay, logs: any[]): Promise<string> {
  const rec = logs.find((l) => l.msg.startsWith('provisioned'));
  if (!rec) throw new Error('relay did not log its provisioned topic');
  return rec.topicArn as string;
}

/** A TCP proxy that can refuse and cut connections: makes SNS "unreachable" for the cluster. */
export { startTcpProxy as startProxy } from '@flagraft/testkit';

export interface Proc { p: ChildProcess; lines: any[]; exited: Promise<number | null>; stop(): Promise<void>; cpuSeconds(): number }

/**
 * Spawns `node <main>` (flags from BENCH_NODE_ARGS) and collects its JSON log
 * lines; stop() sends SIGTERM, then SIGKILL after 15 s, by PID.
 */
export function spawnJson(main: string, env: Record<string, string>): Proc {
  if (!existsSync(main)) throw new Error(`${main} is missing: build it first (pnpm --filter ... build)`);
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const lines: any[] = [];
  const proc = spawnProcess({
    name: main, command: process.execPath, args: [...nodeArgs, main], env: { PATH: process.env.PATH ?? '', ...env },
    onLine: (line, stream) => {
      if (stream === 'stderr') { process.stderr.write(`${line}\n`); return; }
      try { lines.push(JSON.parse(line)); } catch { /* not JSON */ }
    },
  });
  const p = proc.child;
  const exited = proc.exited.then((e) => e.code);
  return {
    p, lines, exited,
    cpuSeconds() {
      // utime + stime from /proc (Linux), in clock ticks of 1/100 s.
      try {
        const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch { return NaN; }
    },
    stop: () => proc.stop(15_000),
  };
}
