// DEVELOPMENT AID: where does save -> browser latency go? Times a gateway PUT,
// then its arrival on a WebSocket straight to the relay and through /live.
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { launchBrowser, signIn } from '../test/browser';
const info = JSON.parse(readFileSync('/tmp/devstack.out', 'utf8'));
const b = await launchBrowser();
const p = await (await b.newContext()).newPage();
await signIn(p, info.dashboard, info.tokens.admin);
const cookie = (await p.context().cookies()).find((c) => c.name === 'flagraft_session')!;
await b.close();
const seen = { relay: new Map<number, number>(), live: new Map<number, number>() };
const open = (url: string, headers: Record<string, string>, into: Map<number, number>) =>
  new Promise<WebSocket>((res) => {
    const ws = new WebSocket(url, { headers });
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'change') into.set(m.event.revision, performance.now());
    });
    ws.on('open', () => res(ws));
  });
const a = await open(`${info.relay.replace('http', 'ws')}/ws`, { authorization: `Bearer ${info.tokens.admin}` }, seen.relay);
const c = await open(`${info.dashboard.replace('http', 'ws')}/live`, { cookie: `flagraft_session=${cookie.value}` }, seen.live);
const rows: number[][] = [];
for (let i = 0; i < 15; i++) {
  const t0 = performance.now();
  const r = await fetch(`${info.gateway}/api/v1/flags/probe`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${info.tokens.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'probe', type: 'boolean', variants: { on: true, off: false }, defaultVariant: i % 2 ? 'on' : 'off', enabled: true, rules: [] }),
  });
  const body = await r.json();
  const t1 = performance.now();
  const rev = body.modRevision;
  const deadline = Date.now() + 10_000;
  while ((!seen.relay.has(rev) || !seen.live.has(rev)) && Date.now() < deadline) await new Promise((x) => setTimeout(x, 2));
  rows.push([t1 - t0, (seen.relay.get(rev) ?? NaN) - t1, (seen.live.get(rev) ?? NaN) - t1]);
}
for (const r of rows) console.log(r.map((x) => x.toFixed(0)).join('\t'));
a.close();
c.close();
