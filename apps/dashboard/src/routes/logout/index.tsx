import type { RequestHandler } from '@builder.io/qwik-city';
import { clearSessionCookie } from '~/server/request';
import { log } from '~/server/log';
import { sessionOf } from '~/server/request';

// Sign-out is a POST (a link could be triggered by a prefetch or a crafted page).
export const onPost: RequestHandler = async (ev) => {
  const s = sessionOf(ev);
  clearSessionCookie(ev);
  if (s) log('info', 'signed out', { user: s.name });
  throw ev.redirect(303, '/login?signedOut=1');
};

export const onGet: RequestHandler = async (ev) => {
  throw ev.redirect(302, '/flags');
};
