// DEVELOPMENT AID: save the HTML of a page of a running dev stack.
import { readFileSync, writeFileSync } from 'node:fs';
import { launchBrowser, signIn } from '../test/browser';
const info = JSON.parse(readFileSync('/tmp/devstack.out', 'utf8'));
const b = await launchBrowser();
const p = await (await b.newContext()).newPage();
await signIn(p, info.dashboard, info.tokens.admin);
const cookie = (await p.context().cookies()).find((c) => c.name === 'flagraft_session')!;
const r = await fetch(`${info.dashboard}${process.argv[2] ?? '/flags'}`, { headers: { cookie: `flagraft_session=${cookie.value}` } });
writeFileSync('/tmp/page.html', await r.text());
await b.close();
