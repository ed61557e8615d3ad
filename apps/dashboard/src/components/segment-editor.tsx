import { $, component$, useSignal, useStore, useTask$ } from '@builder.io/qwik';
import { segmentState, toSegment, type SegmentState } from '~/lib/editor-model';
import type { StoredSegment, ValidationIssue } from '~/lib/types';
import { useDeleteSegment, useSaveSegment, type SegmentSaveFailure } from '~/server/segment-actions';
import { ConditionRows } from './condition-rows';
import { TypedConfirmDialog } from './typed-confirm';
import { humanIssue } from '~/lib/human-path';
import { userKey } from '~/lib/jsx-key';

export const SegmentEditor = component$((props: { stored?: StoredSegment; canEdit: boolean }) => {
  const creating = !props.stored;
  const readOnly = !props.canEdit;
  const state = useStore<SegmentState>(segmentState(props.stored?.segment));
  const revision = useSignal(props.stored?.modRevision ?? 0);
  const issues = useSignal<ValidationIssue[]>([]);
  const notice = useSignal<{ kind: 'ok' | 'bad'; text: string } | null>(null);
  const deleteRef = useSignal<HTMLDialogElement>();
  const save = useSaveSegment();
  const del = useDeleteSegment();

  useTask$(({ track }) => {
    const r = track(() => save.value);
    if (!r) return;
    if (r.failed) {
      const f = r as unknown as SegmentSaveFailure;
      issues.value = f.issues ?? [];
      notice.value = { kind: 'bad', text: f.message };
      return;
    }
    const stored = (r as { stored: StoredSegment }).stored;
    revision.value = stored.modRevision;
    issues.value = [];
    notice.value = { kind: 'ok', text: `Saved: revision ${stored.modRevision}.` };
  });

  const doSave = $(async () => {
    notice.value = null;
    await save.submit({ json: JSON.stringify(toSegment(state)), revision: String(revision.value) });
  });

  return (
    <div>
      {notice.value && (
        <p class={`notice ${notice.value.kind}`} role={notice.value.kind === 'bad' ? 'alert' : 'status'}>
          {notice.value.text}
        </p>
      )}
      {issues.value.length > 0 && (
        <div class="notice bad" role="alert">
          <ul>
            {issues.value.map((i) => (
              <li key={userKey(i.path, i.message)}>
                {humanIssue(i, 'segment')}
              </li>
            ))}
          </ul>
        </div>
      )}
      <form preventdefault:submit onSubmit$={doSave} noValidate>
        <fieldset>
          <legend>Segment</legend>
          <div class="grid2">
            <div class="field">
              <label for="seg-name">Name</label>
              <input id="seg-name" value={state.name} readOnly={!creating} disabled={readOnly} required onInput$={(_, el) => (state.name = el.value)} />
            </div>
            <div class="field">
              <label for="seg-desc">Description</label>
              <input id="seg-desc" value={state.description} disabled={readOnly} onInput$={(_, el) => (state.description = el.value)} />
            </div>
          </div>
          <h3>A context is in the segment when all of these match</h3>
          <ConditionRows rows={state.conditions} idPrefix="seg-cond" pathPrefix="conditions" issues={issues.value} readOnly={readOnly} />
        </fieldset>
        {!readOnly && (
          <div class="dialog-actions u-jstart">
            <button type="submit" class="primary" disabled={save.isRunning}>
              {creating ? 'Create segment' : 'Save changes'}
            </button>
            {!creating && (
              <button
                type="button"
                class="danger u-ml-auto"
               
                onClick$={() => deleteRef.value?.showModal()}
              >
                Delete segment…
              </button>
            )}
          </div>
        )}
      </form>
      {!creating && (
        <TypedConfirmDialog dialogRef={deleteRef} id="seg-delete" what="segment" idField="name" name={state.name} revision={revision.value} action={del}>
          <p>A segment used by a flag's rules cannot be deleted; remove it from those rules first.</p>
        </TypedConfirmDialog>
      )}
    </div>
  );
});
