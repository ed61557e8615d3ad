// What the flag and segment editor actions share, driven by flag-model's
// item-kind descriptor: reading a save (the editor's JSON, checked as the
// kind, and the revision it was loaded at) and deleting with a typed
// confirmation. What differs (conflict wording, what a refusal names) stays
// in flag-actions.ts and segment-actions.ts.
import type { RequestEventAction } from '@builder.io/qwik-city';
import type { AnyItemKind, FlagKind } from '@flagraft/flag-model';
import type { FlagDefinition, SegmentDefinition, ValidationIssue } from '~/lib/types';
import { revisionOf } from './input-limits';
import { gatewayFor, problemOf } from './request';
import { checkItem, parseEditorJson } from './validation';

type DefOf<K extends AnyItemKind> = K extends FlagKind ? FlagDefinition : SegmentDefinition;

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
    await (kind.kind === 'flag' ? gatewayFor(ev).deleteFlag(id, revision) : gatewayFor(ev).deleteSegment(id, revision));
  } catch (err) {
    const p = problemOf(err);
    const own = explain(err, p.message);
    return ev.fail(own?.status ?? p.status, { message: own?.message ?? p.message });
  }
  throw ev.redirect(303, `/${kind.plural}?deleted=${encodeURIComponent(id)}`);
}
