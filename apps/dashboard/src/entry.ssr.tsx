/**
 * SSR entry point: every page is rendered here, on the server.
 *
 * The page is rendered into memory first and written out only when the
 * render has finished. Qwik City sends the status and headers with the first
 * byte; a render that failed half-way through would leave a 200 with a
 * cut-off body. Buffered, a failed render writes nothing, the error reaches
 * the server's error boundary (server/boundary.ts) and the browser gets a
 * 500 error page with the request id. A page is tens of KB (one page of
 * rows), so holding it costs little; streaming would only help huge pages.
 */
import { renderToStream, type RenderToStreamOptions } from '@builder.io/qwik/server';
import Root from './root';
import { nonceInlineStyles } from './server/security-headers';

export default async function (opts: RenderToStreamOptions) {
  const chunks: string[] = [];
  const result = await renderToStream(<Root />, {
    ...opts,
    stream: { write: (chunk: string) => void chunks.push(chunk) },
    // Use container attributes to set attributes on the html tag.
    containerAttributes: {
      lang: 'en-us',
      ...opts.containerAttributes,
    },
    serverData: {
      ...opts.serverData,
    },
  });
  // Qwik's own <style> elements get the CSP nonce (security-headers.ts).
  const nonce = typeof opts.serverData?.nonce === 'string' ? opts.serverData.nonce : '';
  const html = chunks.join('');
  opts.stream.write(nonce ? nonceInlineStyles(html, nonce) : html);
  return result;
}
