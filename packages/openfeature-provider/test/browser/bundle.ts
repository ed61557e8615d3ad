// Bundles page.ts for the browser with esbuild and serves it from a loopback
// HTTP server on its own origin (so every call to the gateway is cross-origin,
// as for a real web app).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function servePage(): Promise<{ url: string; bytes: number; close(): Promise<void> }> {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const js = out.outputFiles[0].text;
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>flagraft provider test</title></head><body><script type="module" src="/page.js"></script></body></html>';
  const server: Server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/' || req.url?.startsWith('/?')) res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    bytes: Buffer.byteLength(js),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
