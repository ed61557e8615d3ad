import { component$, Slot, useSignal, type QRL, type Signal } from '@builder.io/qwik';

/**
 * A destructive action confirmed by typing the object's name (flag key,
 * segment name). The button stays disabled until the text matches exactly.
 */
export const TypedConfirmDialog = component$(
  (props: {
    dialogRef: Signal<HTMLDialogElement | undefined>;
    id: string;
    what: string;
    name: string;
    error?: string;
    running: boolean;
    onConfirm$: QRL<(typed: string) => unknown>;
  }) => {
    const typed = useSignal('');
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
        {props.error && (
          <p class="error-text" role="alert">
            {props.error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick$={() => props.dialogRef.value?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class="danger solid"
            disabled={typed.value !== props.name || props.running}
            data-testid={`${props.id}-submit`}
            onClick$={() => props.onConfirm$(typed.value)}
          >
            Delete permanently
          </button>
        </div>
      </dialog>
    );
  },
);
