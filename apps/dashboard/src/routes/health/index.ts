import type { RequestHandler } from '@builder.io/qwik-city';

/** Liveness: the process answers. The gateway has its own /ready. */
export const onGet: RequestHandler = async ({ json, headers }) => {
  headers.set('Cache-Control', 'no-store');
  json(200, { status: 'ok', app: 'dashboard' });
};
