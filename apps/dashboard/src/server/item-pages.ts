// Loaders the flag and segment pages share, driven by flag-model's item-kind
// descriptor (the kind's list is where a refused visitor goes back to).
import type { RequestEventLoader } from '@builder.io/qwik-city';
import type { AnyItemKind } from '@flagraft/flag-model';
import { GatewayError } from './gateway';
import { canEdit, problemOf } from './request';

/** The "new item" page's guard: only editors may create; others go back to the kind's list. */
export function guardNewItem(ev: RequestEventLoader, kind: AnyItemKind): void {
  if (!canEdit(ev)) throw ev.redirect(302, `/${kind.plural}`);
}

/**
 * One item's page data: what `load` returns, or why it could not be loaded
 * (a missing item answers the page with 404).
 */
export async function loadItemPage<T extends object>(ev: RequestEventLoader, id: string, load: () => Promise<T>) {
  try {
    return { ok: true as const, ...(await load()), canEdit: canEdit(ev) };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) ev.status(404);
    const p = problemOf(err);
    return { ok: false as const, id, status: p.status, error: p.message };
  }
}
