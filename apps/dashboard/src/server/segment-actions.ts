// Route actions for segments, re-exported by /segments/new and /segments/[name].
// The save and delete are item-actions.ts's; this file words a segment's conflicts.
import { routeAction$ } from '@builder.io/qwik-city';
import type { StoredSegment, ValidationIssue } from '~/lib/types';
import { GatewayError } from './gateway';
import { SEGMENT_KIND } from '@flagraft/flag-model';
import { deleteConfirmed, saveEdited } from './item-actions';
import { gatewayFor } from './request';

export interface SegmentSaveFailure {
  message: string;
  issues?: ValidationIssue[];
  current?: StoredSegment | null;
}

export const useSaveSegment = routeAction$(async (data, ev) =>
  saveEdited<typeof SEGMENT_KIND, SegmentSaveFailure>(data, ev, SEGMENT_KIND, {
    exists: (segment) => ({ message: `A segment named “${segment.name}” already exists.` }),
    async conflict(segment) {
      const current = await gatewayFor(ev).getItem(SEGMENT_KIND, segment.name).catch(() => null);
      return {
        message: current
          ? `${current.updatedBy} changed this segment (revision ${current.modRevision}) while you were editing it. Nothing was overwritten: reload to see their version, then reapply your edit.`
          : 'This segment was deleted while you were editing it.',
        current,
      };
    },
  }));

export const useDeleteSegment = routeAction$(async (data, ev) =>
  deleteConfirmed(data, ev, SEGMENT_KIND, (err, message) => {
    const usedBy = err instanceof GatewayError && Array.isArray(err.problem.usedBy) ? (err.problem.usedBy as string[]) : [];
    return usedBy.length ? { status: err instanceof GatewayError ? err.status : 500, message: `${message} (used by: ${usedBy.join(', ')})` } : undefined;
  }));
