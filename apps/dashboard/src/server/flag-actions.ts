// Route actions for flags, shared by /flags/new and /flags/[key] (each route
// re-exports the ones it uses, as Qwik City requires).
import { routeAction$ } from '@builder.io/qwik-city';
import type { FlagDefinition, StoredFlag, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { FLAG_KIND } from '@flagraft/flag-model';
import { deleteConfirmed, readEdit } from './item-actions';
import { gatewayFor, problemOf } from './request';
import { protectedEnv, proposalOf, type Proposal } from './change-requests';
import { environmentView } from './environments';

export interface SaveFailure {
  message: string;
  issues?: ValidationIssue[];
  /** Set on 412: what is stored now, for the conflict view. */
  current?: StoredFlag | null;
  mine?: FlagDefinition;
  /** Set on 409 PROTECTED: the same save, to propose as a change request. */
  proposal?: Proposal;
}

/**
 * Save a flag. `revision` is what the editor loaded: 0 creates (If-None-Match: *),
 * anything else replaces with If-Match, so a concurrent change is never overwritten.
 */
export const useSaveFlag = routeAction$(async (data, ev) => {
  const edit = readEdit(data, FLAG_KIND);
  if (!edit.ok) return ev.fail(edit.status, edit.failure as SaveFailure);
  const { value: flag, revision } = edit;
  const gw = gatewayFor(ev);
  // The environment the editor was loaded in (a hidden field), else the session's choice.
  const envs = await environmentView(ev);
  const named = typeof data.env === 'string' && data.env ? data.env : envs.current;
  const environment = !named || named === envs.defaultName ? undefined : named;
  let stored: StoredFlag;
  try {
    stored = await gw.putFlag(flag, revision, environment);
  } catch (err) {
    const prot = protectedEnv(err, named);
    if (prot) {
      return ev.fail(409, {
        message: `${prot} is protected: changes there need approval. Propose this save as a change request instead.`,
        proposal: proposalOf(prot, `${revision === 0 ? 'Create' : 'Change'} ${flag.key} in ${prot}`, [{ op: 'putFlag', flag, ...(revision ? { expectedRevision: revision } : {}) }]),
      } as SaveFailure);
    }
    if (err instanceof GatewayError && (err.status === 412 || err.status === 409)) {
      if (revision === 0) {
        return ev.fail(409, { message: `A flag with the key “${flag.key}” already exists. Choose another key.`, issues: [{ path: 'key', message: 'already exists' }] } as SaveFailure);
      }
      const current = await gw.getFlag(flag.key, environment).catch((e) => (e instanceof GatewayError && e.status === 404 ? null : undefined));
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
export const useDeleteFlag = routeAction$(async (data, ev) =>
  deleteConfirmed(data, ev, FLAG_KIND, (err) =>
    err instanceof GatewayError && err.status === 412
      ? { status: 412, message: 'The flag changed since you loaded it. Reload the page, review the change, then delete again.' }
      : undefined));
