import type { RequestHandler } from '@builder.io/qwik-city';
import { sessions } from '~/server/identity';
import { log } from '~/server/log';
import { clearSessionCookie, sessionOf } from '~/server/request';

// Sign-out is a POST (a link could be triggered by a prefetch or a crafted
// page). It ends the session on the server at once: the old cookie, if kept
// or copied, is refused from the next request on (sessions.ts).
export const onPost: RequestHandler = async (ev) => {
  const s = sessionOf(ev);
  if (s) {
    sessions.end(s.sid);
    log('info', 'signed out', { user: s.name });
  }
  clearSessionCookie(ev);
  throw ev.redirect(303, '/login?signedOut=1');
};

export const onGet: RequestHandler = async (ev) => {
  throw ev.redirect(302, '/flags');
};
