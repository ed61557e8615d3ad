// The environment a signed-in user is looking at (issue 16 item 5): `?env=`
// on any page chooses it and is remembered in a cookie (not secret: a name),
// so links and reloads stay in that environment; the default is the
// cluster's default environment. Flag pages pass it to the gateway as
// `environment` — and pass nothing for the default environment, so the old
// paths (the flag list's live index) stay as they were.
import type { RequestEventBase } from '@builder.io/qwik-city';
import type { StoredEnvironment } from '~/lib/types';
import { getConfig } from './config';
import { gatewayFor, sessionOf } from './request';

export const ENV_COOKIE = 'flagraft_env';
/** Longest environment name taken from `?env=` or the cookie. */
export const MAX_ENV_NAME_CHARS = 128;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const VIEW_KEY = 'flagraft.envView';

/** What the pages need of one environment (plain data, serialisable to the browser). */
export interface EnvSummary {
  name: string;
  label: string;
  production: boolean;
  /** approvalsRequired of its policy: above 0 = protected (writes need a change request). */
  approvals: number;
  authorCannotApprove: boolean;
  approverRoles: string[];
  approvers: string[];
}

export interface EnvView {
  /** The environment shown. '' when the gateway did not list environments (then nothing is passed). */
  current: string;
  isDefault: boolean;
  defaultName: string;
  environments: EnvSummary[];
}

export function summaryOf(e: StoredEnvironment): EnvSummary {
  const d = e.environment;
  return {
    name: d.name,
    label: d.displayName || d.name,
    production: !!d.production,
    approvals: d.policy?.approvalsRequired ?? 0,
    authorCannotApprove: !!d.policy?.authorCannotApprove,
    approverRoles: d.policy?.approverRoles ?? [],
    approvers: d.policy?.approvers ?? [],
  };
}

function wanted(raw: string | null | undefined): string | undefined {
  return raw && raw.length <= MAX_ENV_NAME_CHARS && NAME.test(raw) ? raw : undefined;
}

/**
 * The request's environment view (read once per request). An unknown name in
 * `?env=` or the cookie falls back to the default environment; a known one
 * from `?env=` is remembered.
 */
export function environmentView(ev: RequestEventBase): Promise<EnvView> {
  // The promise is kept, so the layout's and the page's loaders (run side by side) share one gateway call.
  const cached = ev.sharedMap.get(VIEW_KEY) as Promise<EnvView> | undefined;
  if (cached) return cached;
  const view = readView(ev);
  ev.sharedMap.set(VIEW_KEY, view);
  return view;
}

async function readView(ev: RequestEventBase): Promise<EnvView> {
  if (!sessionOf(ev)) return { current: '', isDefault: true, defaultName: '', environments: [] };
  try {
    const list = await gatewayFor(ev).api.listEnvironments();
    const environments = list.environments.map(summaryOf).sort((a, b) => a.name.localeCompare(b.name));
    const defaultName = list.defaultEnvironment ?? list.environments.find((e) => e.isDefault)?.environment.name ?? '';
    const fromUrl = wanted(ev.url.searchParams.get('env'));
    const fromCookie = wanted(ev.cookie.get(ENV_COOKIE)?.value);
    const known = (n: string | undefined) => (n && environments.some((e) => e.name === n) ? n : undefined);
    // A token limited to some environments may not see the default one: then its first environment.
    const current = known(fromUrl) ?? known(fromCookie) ?? known(defaultName) ?? environments[0]?.name ?? defaultName;
    if (fromUrl && known(fromUrl)) {
      ev.cookie.set(ENV_COOKIE, fromUrl, { path: '/', sameSite: 'lax', httpOnly: true, secure: getConfig().cookieSecure, maxAge: 365 * 24 * 3600 });
    }
    return { current, isDefault: current === defaultName, defaultName, environments };
  } catch {
    // An older gateway, or a token limited so it cannot list: flag pages act on the default environment.
    return { current: '', isDefault: true, defaultName: '', environments: [] };
  }
}

/** The `environment` to send to the gateway: undefined for the default environment (the old routes). */
export function envParam(view: EnvView): string | undefined {
  return view.isDefault || !view.current ? undefined : view.current;
}
