// The relay transport: FlagraftProvider following the notification relay's
// WebSocket (cluster -> SNS outbox -> fauxqs SNS -> SQS -> relay) instead of the
// gateway's SSE stream; the snapshot still comes from a gateway. Real cluster,
// real relay, the SNS/SQS emulator (fauxqs, in process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderEvents } from '@openfeature/server-sdk';
import { createGateway, type Gateway } from '@flagraft/gateway';
import { createClusterClient, startLocalCluster } from '../../../apps/notification-relay/test/bench-deps.js';
import { EVENT_KEYS_FILE, startEmulator, startRelay, tokenStore, TOKENS, type RelayFixture } from '../../../apps/notification-relay/test/helpers.js';
import { FlagraftProvider } from '../src/index.js';

let emu: Awaited<ReturnType<typeof startEmulator>>;
let relay: RelayFixture;
let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
let gateway: Gateway;
let client: ReturnType<typeof createClusterClient>;
const providers: FlagraftProvider[] = [];

beforeAll(async () => {
  emu = await startEmulator();
  relay = await startRelay(emu.endpoint);
  // The nodes sign what they publish with the relay helpers' test key; the relay verifies it.
  cluster = await startLocalCluster({ size: 3, env: { FLAGRAFT_SNS_TOPIC_ARN: relay.topicArn, FLAGRAFT_SNS_ENDPOINT: emu.endpoint, FLAGRAFT_EVENT_KEYS_FILE: EVENT_KEYS_FILE } });
  gateway = createGateway({ port: 0, clusterEndpoints: cluster.endpoints, clusterTls: cluster.clientOptions().tls, tokens: tokenStore(), logWrite: () => {} });
  await gateway.start();
  await gateway.waitUntilReady(30_000);
  client = createClusterClient({ ...cluster.clientOptions() });
});
afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.onClose()));
  await client?.close();
  await gateway?.close();
  await cluster?.stop();
  await relay?.relay.close();
  await emu?.stop();
});

const flag = (key: string, on: boolean) => ({ key, type: 'boolean' as const, variants: { on: true, off: false }, defaultVariant: on ? 'on' : 'off', enabled: true, rules: [] });

describe('relay transport', () => {
  it('applies every change in order from the WebSocket, after a snapshot from the gateway', async () => {
    await client.putFlag(flag('ws-a', false), { actor: 'test' });
    const p = new FlagraftProvider({ url: gateway.url(), token: TOKENS.reader, transport: 'relay', relay: { websocketUrl: relay.wsUrl }, prefix: 'ws-', minBackoffMs: 50, maxBackoffMs: 300 });
    providers.push(p);
    await p.initialize();
    const revisions: number[] = [];
    p.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => revisions.push((d as unknown as { metadata: { revision: number } }).metadata.revision));
    const written: number[] = [];
    for (let i = 0; i < 8; i++) written.push((await client.putFlag(flag(`ws-${i % 3}`, i % 2 === 0), { actor: 'test' })).revision);
    const deadline = Date.now() + 20_000;
    while (p.revision < written.at(-1)!) {
      if (Date.now() > deadline) throw new Error(`provider at ${p.revision}, expected ${written.at(-1)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(revisions.filter((r) => written.includes(r))).toEqual(written);
    expect(p.resolve('ws-1', false, {}).value).toBe(false); // i = 7
    expect(p.resolve('ws-0', false, {}).value).toBe(true); // i = 6
    expect(p.stats.outOfOrder).toBe(0);
  });

  it('one environment: its flag changes and the segments arrive over the WebSocket, other environments\' do not', async () => {
    const created = await fetch(`${gateway.url()}/api/v1/environments`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ws-staging' }) });
    expect(created.status, await created.text()).toBe(201);
    await client.putFlag(flag('wse-a', false), { actor: 'test' });
    const p = new FlagraftProvider({ url: gateway.url(), token: TOKENS.reader, transport: 'relay', relay: { websocketUrl: relay.wsUrl }, prefix: 'wse-', environment: 'ws-staging', minBackoffMs: 50, maxBackoffMs: 300 });
    providers.push(p);
    await p.initialize();
    const revisions: number[] = [];
    p.events.addHandler(ProviderEvents.ConfigurationChanged, (d) => revisions.push((d as unknown as { metadata: { revision: number } }).metadata.revision));
    const other = (await client.putFlag({ ...flag('wse-a', false), enabled: false }, { actor: 'test' })).revision; // the default environment
    const mine = (await client.putFlag(flag('wse-a', true), { actor: 'test', environment: 'ws-staging' })).revision;
    const deadline = Date.now() + 20_000;
    while (p.revision < mine) {
      if (Date.now() > deadline) throw new Error(`provider at ${p.revision}, expected ${mine}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(other).toBeLessThan(mine);
    expect(revisions, 'only the staging change').toEqual([mine]);
    expect(p.resolve('wse-a', false, {}).value).toBe(true);
  });

  it('a token without the reader role is refused at initialize (403), as the relay refuses it for streams', async () => {
    const p = new FlagraftProvider({ url: gateway.url(), token: TOKENS.evaluator, transport: 'relay', relay: { websocketUrl: relay.wsUrl }, initTimeoutMs: 5_000 });
    providers.push(p);
    await expect(p.initialize()).rejects.toThrow(/403/); // the snapshot needs the reader role, like the relay
  });
});
