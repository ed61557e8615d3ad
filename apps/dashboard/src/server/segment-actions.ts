// Route actions for segments, re-exported by /segments/new and /segments/[name].
import { routeAction$ } from '@builder.io/qwik-city';
import type { StoredSegment, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { SEGMENT_KIND } from '@flagraft/flag-model';
import { deleteConfirmed, readEdit } from './item-actions';
import { gatewayFor, problemOf } from './request';

export interface SegmentSaveFailure {
  message: string;
  issues?: ValidationIssue[];
  current?: StoredSegment | null;
}

export const useSaveSegment = routeAction$(async (data, ev) => {
  const edit = readEdit(data, SEGMENT_KIND);
  if (!edit.ok) return ev.fail(edit.status, edit.failure as SegmentSaveFailure);
  const { value: segment, revision } = edit;
  const gw = gatewayFor(ev);
  let stored: StoredSegment;
  try {
    stored = await gw.putSegment(segment, revision);
  } catch (err) {
    if (err instanceof GatewayError && (err.status === 412 || err.status === 409)) {
      if (revision === 0) return ev.fail(409, { message: `A segment named “${segment.name}” already exists.` } as SegmentSaveFailure);
      const current = await gw.getSegment(segment.name).catch(() => null);
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

export const useDeleteSegment = routeAction$(async (data, ev) =>
  deleteConfirmed(data, ev, SEGMENT_KIND, (err, message) => {
    const usedBy = err instanceof GatewayError && Array.isArray(err.problem.usedBy) ? (err.problem.usedBy as string[]) : [];
    return usedBy.length ? { status: err instanceof GatewayError ? err.status : 500, message: `${message} (used by: ${usedBy.join(', ')})` } : undefined;
  }));
