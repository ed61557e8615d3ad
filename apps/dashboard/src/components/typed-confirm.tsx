import { component$, Slot, useSignal, type Signal } from '@builder.io/qwik';
import type { ActionStore } from '@builder.io/qwik-city';

/** The delete action of an item kind (useDeleteFlag, useDeleteSegment): its failure carries a message. */
type DeleteAction = ActionStore<{ failed?: boolean; message?: string } | object, Record<string, unknown>>;

/**
 * Deleting an item, confirmed by typing its id (flag key, segment name). The
 * button stays disabled until the text matches exactly; confirming submits
 * the kind's delete action with the id (as `idField`), the typed text and the
 * revision the editor loaded (If-Match).
 */
export const TypedConfirmDialog = component$(
  (props: {
    dialogRef: Signal<HTMLDialogElement | undefined>;
    id: string;
    what: string;
    name: string;
    idField: 'key' | 'name';
    revision: number;
    action: DeleteAction;
  }) => {
    const typed = useSignal('');
    const failed = props.action.value as { failed?: boolean; message?: string } | undefined;
    const error = failed?.failed ? failed.message : undefined;
    return (
      <dialog ref={props.dialogRef} aria-labelledby={`${props.id}-title`} data-testid={`${props.id}-dialog`} onClose$={() => (typed.value = '')}>
        <h2 id={`${props.id}-title`}>
          Delete {props.what} <code>{props.name}</code>?
        </h2>
        <Slot />
        <div class="field">
          <label for={`${props.id}-confirm`}>
            Type <code>{props.name}</code> to confirm
          </label>
          <input
            id={`${props.id}-confirm`}
            autoComplete="off"
            value={typed.value}
            onInput$={(_, el) => (typed.value = el.value)}
            data-testid={`${props.id}-confirm`}
          />
        </div>
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick$={() => props.dialogRef.value?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class="danger solid"
            disabled={typed.value !== props.name || props.action.isRunning}
            data-testid={`${props.id}-submit`}
            onClick$={() => props.action.submit({ [props.idField]: props.name, confirm: typed.value, revision: String(props.revision) })}
          >
            Delete permanently
          </button>
        </div>
      </dialog>
    );
  },
);
