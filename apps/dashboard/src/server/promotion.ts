// Promotion (issue 16 item 5): copy flag configurations from one environment
// to another. The page shows the gateway's plan (only the flags whose
// configuration differs); the action applies the chosen flags, or every
// differing one. A protected target refuses with PROTECTED: the page then
// offers the same promotion as a change request.
import { routeAction$ } from '@builder.io/qwik-city';
import { CONFIG_FIELDS } from '@flagraft/flag-model';
import { diffJson, type DiffEntry } from '~/lib/diff';
import type { ChangeRequestOp } from '~/lib/types';
import { gatewayFor, problemOf } from './request';
import { proposalOf, protectedEnv } from './change-requests';

/** Flags one promotion may name (the gateway's MAX_PROMOTION_KEYS); more: promote every differing flag. */
export const MAX_PROMOTION_KEYS = 100;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** An environment name from a form or query, or undefined. */
export function environmentName(v: unknown): string | undefined {
  return typeof v === 'string' && NAME.test(v) ? v : undefined;
}

/** Only the configuration an environment owns (the definition is shared): what a promotion changes. */
export function configDiff(before: Record<string, unknown> | null | undefined, after: Record<string, unknown>): DiffEntry[] {
  const pick = (f: Record<string, unknown> | null | undefined) => {
    if (!f) return null;
    const out: Record<string, unknown> = {};
    for (const k of CONFIG_FIELDS) if (f[k] !== undefined) out[k] = f[k];
    return out;
  };
  return diffJson(pick(before), pick(after));
}

export const usePromote = routeAction$(async (data, ev) => {
  const from = environmentName(data.from);
  const to = environmentName(data.to);
  if (!from || !to || from === to) return ev.fail(400, { message: 'Choose two different environments.' });
  const all = data.mode === 'all';
  const raw = Array.isArray(data.keys) ? data.keys : [];
  const keys = [...new Set(raw.filter((k): k is string => typeof k === 'string' && k.length > 0 && k.length <= 128))];
  if (!all && keys.length === 0) return ev.fail(400, { message: 'Select at least one flag, or promote every differing flag.' });
  if (!all && keys.length > MAX_PROMOTION_KEYS) {
    return ev.fail(400, { message: `At most ${MAX_PROMOTION_KEYS} flags at once (MAX_PROMOTION_KEYS); promote every differing flag instead.` });
  }
  const request = { from, to, keys: all ? undefined : keys };
  try {
    const r = await gatewayFor(ev).api.applyPromotion(request);
    return { ok: true as const, revision: r.revision, flags: r.flags };
  } catch (err) {
    const env = protectedEnv(err, to);
    const p = problemOf(err);
    if (env) {
      const op = { op: 'promote', ...request } as ChangeRequestOp;
      const what = all ? 'every differing flag' : keys.length === 1 ? keys[0] : `${keys.length} flags`;
      return ev.fail(409, { message: p.message, proposal: proposalOf(env, `Promote ${what} from ${from} to ${to}`, [op]) });
    }
    return ev.fail(p.status, { message: p.message });
  }
});
