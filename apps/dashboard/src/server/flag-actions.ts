// Route actions for flags, shared by /flags/new and /flags/[key] (each route
// re-exports the ones it uses, as Qwik City requires).
import { routeAction$ } from '@builder.io/qwik-city';
import type { FlagDefinition, StoredFlag, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { revisionOf } from './input-limits';
import { gatewayFor, problemOf } from './request';
import { checkFlag, parseEditorJson } from './validation';

export interface SaveFailure {
  message: string;
  issues?: ValidationIssue[];
  /** Set on 412: what is stored now, for the conflict view. */
  current?: StoredFlag | null;
  mine?: FlagDefinition;
}

/**
 * Save a flag. `revision` is what the editor loaded: 0 creates (If-None-Match: *),
 * anything else replaces with If-Match, so a concurrent change is never overwritten.
 */
export const useSaveFlag = routeAction$(async (data, ev) => {
  const parsed = parseEditorJson(data.json);
  if (!parsed.ok) return ev.fail(400, { message: 'The flag could not be read.', issues: parsed.issues } as SaveFailure);
  const checked = checkFlag(parsed.value);
  if (!checked.ok) return ev.fail(422, { message: 'Fix the problems below, then save again.', issues: checked.issues } as SaveFailure);
  const flag = checked.value;
  const revision = revisionOf(data.revision);
  if (revision === undefined) return ev.fail(400, { message: 'revision must be a whole number' } as SaveFailure);
  const gw = gatewayFor(ev);
  let stored: StoredFlag;
  try {
    stored = await gw.putFlag(flag, revision);
  } catch (err) {
    if (err instanceof GatewayError && (err.status === 412 || err.status === 409)) {
      if (revision === 0) {
        return ev.fail(409, { message: `A flag with the key “${flag.key}” already exists. Choose another key.`, issues: [{ path: 'key', message: 'already exists' }] } as SaveFailure);
      }
      const current = await gw.getFlag(flag.key).catch((e) => (e instanceof GatewayError && e.status === 404 ? null : undefined));
      return ev.fail(412, {
        message: current === null ? 'This flag was deleted while you were editing it.' : 'This flag was changed while you were editing it.',
        current: current ?? null,
        mine: flag,
      } as SaveFailure);
    }
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.message, issues: p.issues } as SaveFailure);
  }
  // Outside the try: redirect() throws, and must not be taken for a gateway error.
  if (revision === 0) throw ev.redirect(303, `/flags/${encodeURIComponent(stored.flag.key)}?created=1`);
  return { ok: true as const, stored };
});

/** Delete with typed confirmation (the key) and If-Match. */
export const useDeleteFlag = routeAction$(async (data, ev) => {
  const key = typeof data.key === 'string' ? data.key : '';
  if (!key || data.confirm !== key) return ev.fail(400, { message: 'Type the flag key exactly to confirm deletion.' });
  const revision = revisionOf(data.revision, 1);
  try {
    await gatewayFor(ev).deleteFlag(key, revision);
  } catch (err) {
    if (err instanceof GatewayError && err.status === 412) {
      return ev.fail(412, { message: 'The flag changed since you loaded it. Reload the page, review the change, then delete again.' });
    }
    return ev.fail(problemOf(err).status, { message: problemOf(err).message });
  }
  throw ev.redirect(303, `/flags?deleted=${encodeURIComponent(key)}`);
});
