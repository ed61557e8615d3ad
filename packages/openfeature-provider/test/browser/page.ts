// The test page: one OpenFeature web client with either the official OFREP web
// provider or ours, recording every PROVIDER_CONFIGURATION_CHANGED / STALE /
// READY with its wall-clock time, for the Chromium tests and the latency bench.
// Bundled by esbuild (bundle.ts); configured from the page URL's hash.
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { FlagraftWebProvider } from '../../src/web/index.js';

interface Recorded { type: string; at: number; flagsChanged?: string[] }
const w = window as unknown as { __events: Recorded[]; __ready: boolean; __value(key: string): unknown; __provider: unknown; __setContext(c: unknown): Promise<void> };
w.__events = [];
w.__ready = false;

const params = new URLSearchParams(location.hash.slice(1));
const url = params.get('gateway')!;
const token = params.get('token')!;
const kind = params.get('provider');
const provider = kind === 'official'
  ? new OFREPWebProvider({ baseUrl: url, headers: [['Authorization', `Bearer ${token}`]] })
  : new FlagraftWebProvider({ url, token, staleAfterMs: 300, minBackoffMs: 100, maxBackoffMs: 500 });
w.__provider = provider;

for (const type of [ProviderEvents.ConfigurationChanged, ProviderEvents.Stale, ProviderEvents.Ready, ProviderEvents.Error]) {
  OpenFeature.addHandler(type, (d) => w.__events.push({ type, at: Date.now(), flagsChanged: d?.flagsChanged as string[] | undefined }));
}
const client = OpenFeature.getClient();
w.__value = (key: string) => client.getBooleanValue(key, false);
w.__setContext = (c: unknown) => OpenFeature.setContext(c as never);
await OpenFeature.setProviderAndWait(provider, { targetingKey: 'browser-user', plan: 'pro' });
w.__ready = true;
