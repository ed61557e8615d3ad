// Route actions for flags, shared by /flags/new and /flags/[key] (each route
// re-exports the ones it uses, as Qwik City requires). The save and delete
// themselves are item-actions.ts's; this file says what is a flag's own:
// environments (and protected ones) and the conflict wording.
import { routeAction$ } from '@builder.io/qwik-city';
import type { FlagDefinition, StoredFlag, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { FLAG_KIND } from '@flagraft/flag-model';
import { deleteConfirmed, saveEdited } from './item-actions';
import { gatewayFor } from './request';
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

/** Save a flag in the environment the editor was loaded in (a hidden field), else the session's choice. */
export const useSaveFlag = routeAction$(async (data, ev) => {
  const envs = await environmentView(ev);
  const named = typeof data.env === 'string' && data.env ? data.env : envs.current;
  const environment = !named || named === envs.defaultName ? undefined : named;
  return saveEdited<typeof FLAG_KIND, SaveFailure>(data, ev, FLAG_KIND, {
    environment,
    refused(err, flag, revision) {
      const prot = protectedEnv(err, named);
      if (!prot) return undefined;
      return {
        status: 409,
        failure: {
          message: `${prot} is protected: changes there need approval. Propose this save as a change request instead.`,
          proposal: proposalOf(prot, `${revision === 0 ? 'Create' : 'Change'} ${flag.key} in ${prot}`, [{ op: 'putFlag', flag, ...(revision ? { expectedRevision: revision } : {}) }]),
        },
      };
    },
    exists: (flag) => ({ message: `A flag with the key “${flag.key}” already exists. Choose another key.`, issues: [{ path: 'key', message: 'already exists' }] }),
    async conflict(flag) {
      const current = await gatewayFor(ev).getFlag(flag.key, environment).catch((e) => (e instanceof GatewayError && e.status === 404 ? null : undefined));
      return {
        message: current === null ? 'This flag was deleted while you were editing it.' : 'This flag was changed while you were editing it.',
        current: current ?? null,
        mine: flag,
      };
    },
  });
});

/** Delete with typed confirmation (the key) and If-Match. */
export const useDeleteFlag = routeAction$(async (data, ev) =>
  deleteConfirmed(data, ev, FLAG_KIND, (err) =>
    err instanceof GatewayError && err.status === 412
      ? { status: 412, message: 'The flag changed since you loaded it. Reload the page, review the change, then delete again.' }
      : undefined));
