// What the flag and segment editor actions share, driven by flag-model's
// item-kind descriptor: reading a save (the editor's JSON, checked as the
// kind, and the revision it was loaded at), the save itself with its
// conflict handling, and deleting with a typed confirmation. What differs
// (conflict wording, the flag's protected environments, what a refusal
// names) is passed in by flag-actions.ts and segment-actions.ts.
import type { RequestEventAction } from '@builder.io/qwik-city';
import type { AnyItemKind } from '@flagraft/flag-model';
import type { ValidationIssue } from '~/lib/types';
import { GatewayError, type DefOf, type StoredOf } from './gateway';
import { revisionOf } from './input-limits';
import { gatewayFor, problemOf } from './request';
import { checkItem, parseEditorJson } from './validation';

export type EditRead<K extends AnyItemKind> =
  | { ok: true; value: DefOf<K>; revision: number }
  | { ok: false; status: 400 | 422; failure: { message: string; issues?: ValidationIssue[] } };

/** A save's input: the JSON parsed and checked as the kind, and the revision the editor loaded (0 = new). */
export function readEdit<K extends AnyItemKind>(data: Record<string, unknown>, kind: K): EditRead<K> {
  const parsed = parseEditorJson(data.json);
  if (!parsed.ok) return { ok: false, status: 400, failure: { message: `The ${kind.kind} could not be read.`, issues: parsed.issues } };
  const checked = checkItem(kind, parsed.value);
  if (!checked.ok) return { ok: false, status: 422, failure: { message: 'Fix the problems below, then save again.', issues: checked.issues } };
  const revision = revisionOf(data.revision);
  if (revision === undefined) return { ok: false, status: 400, failure: { message: 'revision must be a whole number' } };
  return { ok: true, value: checked.value as DefOf<K>, revision };
}

/** What a kind says about a save the generic core cannot word itself. F: the kind's failure shape. */
export interface SaveWords<K extends AnyItemKind, F> {
  /** The environment the save writes to (undefined: the default one; segments have none). */
  environment?: string;
  /** A refusal the kind handles before the common ones (a flag's protected environment), or undefined. */
  refused?(err: unknown, def: DefOf<K>, revision: number): { status: number; failure: F } | undefined;
  /** 409 on create: an item with this id exists. */
  exists(def: DefOf<K>): F;
  /** 412 (or 409) on replace: what changed under the editor, worded from what is stored now. */
  conflict(def: DefOf<K>): Promise<F>;
}

/**
 * Save an item. `revision` is what the editor loaded: 0 creates
 * (If-None-Match: *), anything else replaces with If-Match, so a concurrent
 * change is never overwritten. A create redirects to the new item's page.
 */
export async function saveEdited<K extends AnyItemKind, F extends { message: string }>(
  data: Record<string, unknown>,
  ev: RequestEventAction,
  kind: K,
  words: SaveWords<K, F>,
) {
  const edit = readEdit(data, kind);
  if (!edit.ok) return ev.fail(edit.status, edit.failure as F);
  const { value, revision } = edit;
  let stored: StoredOf<K>;
  try {
    stored = await gatewayFor(ev).putItem(kind, value, revision, words.environment);
  } catch (err) {
    const own = words.refused?.(err, value, revision);
    if (own) return ev.fail(own.status, own.failure);
    if (err instanceof GatewayError && (err.status === 412 || err.status === 409)) {
      return revision === 0 ? ev.fail(409, words.exists(value)) : ev.fail(412, await words.conflict(value));
    }
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.message, issues: p.issues } as unknown as F);
  }
  // Outside the try: redirect() throws, and must not be taken for a gateway error.
  if (revision === 0) throw ev.redirect(303, `/${kind.plural}/${encodeURIComponent(kind.idOf(value as never))}?created=1`);
  return { ok: true as const, stored };
}

/**
 * Delete with typed confirmation (the id) and If-Match, then back to the
 * kind's list. `explain` words a refusal the kind knows more about (undefined:
 * the gateway's own words).
 */
export async function deleteConfirmed(
  data: Record<string, unknown>,
  ev: RequestEventAction,
  kind: AnyItemKind,
  explain: (err: unknown, message: string) => { status: number; message: string } | undefined,
) {
  const id = typeof data[kind.idField] === 'string' ? (data[kind.idField] as string) : '';
  if (!id || data.confirm !== id) return ev.fail(400, { message: `Type the ${kind.kind} ${kind.idField} exactly to confirm deletion.` });
  const revision = revisionOf(data.revision, 1);
  try {
    await gatewayFor(ev).deleteItem(kind, id, revision);
  } catch (err) {
    const p = problemOf(err);
    const own = explain(err, p.message);
    return ev.fail(own?.status ?? p.status, { message: own?.message ?? p.message });
  }
  throw ev.redirect(303, `/${kind.plural}?deleted=${encodeURIComponent(id)}`);
}
