// Route actions for segments, re-exported by /segments/new and /segments/[name].
import { routeAction$ } from '@builder.io/qwik-city';
import type { StoredSegment, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { revisionOf } from './input-limits';
import { gatewayFor, problemOf } from './request';
import { checkSegment, parseEditorJson } from './validation';

export interface SegmentSaveFailure {
  message: string;
  issues?: ValidationIssue[];
  current?: StoredSegment | null;
}

export const useSaveSegment = routeAction$(async (data, ev) => {
  const parsed = parseEditorJson(data.json);
  if (!parsed.ok) return ev.fail(400, { message: 'The segment could not be read.', issues: parsed.issues } as SegmentSaveFailure);
  const checked = checkSegment(parsed.value);
  if (!checked.ok) return ev.fail(422, { message: 'Fix the problems below, then save again.', issues: checked.issues } as SegmentSaveFailure);
  const revision = revisionOf(data.revision);
  if (revision === undefined) return ev.fail(400, { message: 'revision must be a whole number' } as SegmentSaveFailure);
  const gw = gatewayFor(ev);
  let stored: StoredSegment;
  try {
    stored = await gw.putSegment(checked.value, revision);
  } catch (err) {
    if (err instanceof GatewayError && (err.status === 412 || err.status === 409)) {
      if (revision === 0) return ev.fail(409, { message: `A segment named “${checked.value.name}” already exists.` } as SegmentSaveFailure);
      const current = await gw.getSegment(checked.value.name).catch(() => null);
      return ev.fail(412, {
        message: current
          ? `${current.updatedBy} changed this segment (revision ${current.modRevision}) while you were editing it. Nothing was overwritten: reload to see their version, then reapply your edit.`
          : 'This segment was deleted while you were editing it.',
        current,
      } as SegmentSaveFailure);
    }
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.message, issues: p.issues } as SegmentSaveFailure);
  }
  if (revision === 0) throw ev.redirect(303, `/segments/${encodeURIComponent(stored.segment.name)}?created=1`);
  return { ok: true as const, stored };
});

export const useDeleteSegment = routeAction$(async (data, ev) => {
  const name = typeof data.name === 'string' ? data.name : '';
  if (!name || data.confirm !== name) return ev.fail(400, { message: 'Type the segment name exactly to confirm deletion.' });
  const revision = revisionOf(data.revision, 1);
  try {
    await gatewayFor(ev).deleteSegment(name, revision);
  } catch (err) {
    const p = problemOf(err);
    const usedBy = err instanceof GatewayError && Array.isArray(err.problem.usedBy) ? (err.problem.usedBy as string[]) : [];
    return ev.fail(p.status, { message: usedBy.length ? `${p.message} (used by: ${usedBy.join(', ')})` : p.message });
  }
  throw ev.redirect(303, `/segments?deleted=${encodeURIComponent(name)}`);
});
