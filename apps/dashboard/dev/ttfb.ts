// DEVELOPMENT AID: time /flags server renders on a running dev stack.
import { readFileSync } from 'node:fs';
import { launchBrowser, signIn } from '../test/browser';
const info = JSON.parse(readFileSync(process.argv[2] ?? '/tmp/devstack.out', 'utf8'));
const b = await launchBrowser();
const p = await (await b.newContext()).newPage();
await signIn(p, info.dashboard, info.tokens.admin);
const cookie = (await p.context().cookies()).find((c) => c.name === 'flagraft_session')!;
for (let i = 0; i < 5; i++) {
  const t = Date.now();
  const r = await fetch(`${info.dashboard}/flags`, { headers: { cookie: `flagraft_session=${cookie.value}` } });
  const html = await r.text();
  console.log('GET /flags', r.status, html.length, 'bytes', Date.now() - t, 'ms', r.headers.get('server-timing'));
}
await b.close();
