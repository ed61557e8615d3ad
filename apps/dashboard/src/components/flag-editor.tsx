import { $, component$, useContext, useSignal, useStore, useTask$ } from '@builder.io/qwik';
import { Link, server$ } from '@builder.io/qwik-city';
import { diffJson, reapply } from '~/lib/diff';
import { fromDefinition, issuesAt, newFlagState, newRule, renameVariant, toDefinition, type EditorState } from '~/lib/editor-model';
import type { FlagDefinition, FlagType, StoredFlag, ValidationIssue } from '~/lib/types';
import type { SegmentChoice } from '~/lib/segment-usage';
import { useDeleteFlag, useSaveFlag, type SaveFailure } from '~/server/flag-actions';
import type { Proposal } from '~/server/change-requests';
import { ProposeForm } from './propose-form';
import { validateEditorJson } from '~/server/validation';
import { DiffTable } from './diff-table';
import { when } from './format';
import { LiveContext } from './live';
import { RuleEditor } from './rule-editor';
import { TypedConfirmDialog } from './typed-confirm';
import { humanIssue } from '~/lib/human-path';
import { userKey } from '~/lib/jsx-key';
import { IssueLines, Options } from './markup';

const BOOLEAN_CHOICES = [['true', 'true'], ['false', 'false']] as const;

/** Validation with @flagraft/flag-model, run on the dashboard server (a marked server function, server-functions.ts). */
const validateOnServer = server$(validateEditorJson);

/** Delay between the last keystroke and a validation round trip, in ms. */
const VALIDATE_DEBOUNCE_MS = 350;

export interface FlagEditorProps {
  /** The stored flag being edited; undefined when creating. */
  stored?: StoredFlag;
  canEdit: boolean;
  /** The segment picker's choices (with the flags using each). */
  segments: SegmentChoice[];
  /** The environment shown (saves go there); '' or absent = the default environment. */
  env?: string;
}

interface Conflict {
  current: StoredFlag | null;
  mine: FlagDefinition;
  base: FlagDefinition;
}

export const FlagEditor = component$((props: FlagEditorProps) => {
  const creating = !props.stored;
  const readOnly = !props.canEdit;
  const state = useStore<EditorState>(props.stored ? fromDefinition(props.stored.flag) : newFlagState('boolean'));
  // What the editor loaded: the base of the If-Match and of the conflict view.
  const base = useSignal<FlagDefinition | null>(props.stored?.flag ?? null);
  const revision = useSignal(props.stored?.modRevision ?? 0);
  const serverIssues = useSignal<ValidationIssue[]>([]);
  const notice = useSignal<{ kind: 'ok' | 'warn' | 'bad'; text: string } | null>(null);
  const conflict = useSignal<Conflict | null>(null);
  const remoteChange = useSignal<{ revision: number; actor: string; op: string } | null>(null);
  const conflictRef = useSignal<HTMLDialogElement>();
  const deleteRef = useSignal<HTMLDialogElement>();
  const save = useSaveFlag();
  const proposal = useSignal<Proposal | null>(null);
  const del = useDeleteFlag();
  const live = useContext(LiveContext);
  const seenSeq = useSignal(live.seq);

  if (revision.value > live.since) live.since = revision.value;

  // Re-validate (debounced) whenever the form changes, once the page is interactive.
  useTask$(({ track, cleanup }) => {
    const json = track(() => JSON.stringify(state));
    if (typeof window === 'undefined' || readOnly) return;
    const t = setTimeout(async () => {
      const { flag, issues } = toDefinition(JSON.parse(json) as EditorState);
      const fromModel = await validateOnServer(JSON.stringify(flag));
      serverIssues.value = [...issues, ...fromModel.filter((m) => !issues.some((i) => i.path === m.path))];
    }, VALIDATE_DEBOUNCE_MS);
    cleanup(() => clearTimeout(t));
  });

  // Someone else changed this flag while it is open here.
  useTask$(({ track }) => {
    track(() => live.seq);
    for (const { seq, event } of live.events) {
      if (seq <= seenSeq.value) continue;
      seenSeq.value = seq;
      if (event.kind === 'flag' && event.key === state.key && !creating && event.revision > revision.value) {
        remoteChange.value = { revision: event.revision, actor: event.actor, op: event.op };
      }
    }
  });

  // Save results.
  useTask$(({ track }) => {
    const r = track(() => save.value);
    if (!r) return;
    if (r.failed) {
      const f = r as unknown as SaveFailure;
      serverIssues.value = f.issues ?? [];
      proposal.value = f.proposal ?? null;
      if (f.mine && base.value) {
        conflict.value = { current: f.current ?? null, mine: f.mine, base: base.value };
        conflictRef.value?.showModal();
      } else {
        notice.value = { kind: 'bad', text: f.message };
      }
      return;
    }
    const stored = (r as { stored: StoredFlag }).stored;
    base.value = stored.flag;
    revision.value = stored.modRevision;
    remoteChange.value = null;
    Object.assign(state, fromDefinition(stored.flag));
    serverIssues.value = [];
    notice.value = { kind: 'ok', text: `Saved: revision ${stored.modRevision}.` };
  });

  const doSave = $(async () => {
    const { flag, issues } = toDefinition(state);
    if (issues.length) {
      serverIssues.value = issues;
      notice.value = { kind: 'bad', text: 'Fix the problems below, then save again.' };
      return;
    }
    notice.value = null;
    proposal.value = null;
    await save.submit({ json: JSON.stringify(flag), revision: String(revision.value), env: props.env ?? '' });
  });

  const resolve = $((how: 'reapply' | 'discard') => {
    const c = conflict.value;
    if (!c) return;
    conflictRef.value?.close();
    conflict.value = null;
    remoteChange.value = null;
    if (!c.current) {
      // Deleted meanwhile: recreate from my version, or leave.
      if (how === 'reapply') {
        base.value = null;
        revision.value = 0;
        notice.value = { kind: 'warn', text: 'The flag was deleted. Saving will create it again with your version.' };
      } else {
        notice.value = { kind: 'warn', text: 'The flag was deleted by someone else.' };
      }
      return;
    }
    const current = c.current;
    if (how === 'discard') {
      Object.assign(state, fromDefinition(current.flag));
      notice.value = { kind: 'ok', text: `Your changes were discarded; showing revision ${current.modRevision} by ${current.updatedBy}.` };
    } else {
      const m = reapply(
        c.base as unknown as Record<string, unknown>,
        c.mine as unknown as Record<string, unknown>,
        current.flag as unknown as Record<string, unknown>,
      );
      Object.assign(state, fromDefinition(m.merged as unknown as FlagDefinition));
      notice.value = {
        kind: 'warn',
        text: `Your changes (${m.mine.join(', ') || 'none'}) were put on top of revision ${current.modRevision}. Review, then save again.${
          m.overlapping.length ? ` Both of you changed: ${m.overlapping.join(', ')} — yours is kept.` : ''
        }`,
      };
    }
    base.value = current.flag;
    revision.value = current.modRevision;
  });

  const issues = serverIssues.value;
  const fieldErr = (path: string) => issues.filter((i) => i.path === path);
  const variantNames = state.variants.map((v) => v.name).filter(Boolean);
  const ruleIssues = issuesAt(issues, 'rules');

  return (
    <div>
      {notice.value && (
        <p class={`notice ${notice.value.kind}`} role={notice.value.kind === 'bad' ? 'alert' : 'status'} data-testid="editor-notice">
          {notice.value.text}
        </p>
      )}
      {proposal.value && <ProposeForm proposal={proposal.value} />}
      {remoteChange.value && (
        <p class="notice warn" role="status" data-testid="remote-change">
          {remoteChange.value.actor} {remoteChange.value.op === 'delete' ? 'deleted' : 'changed'} this flag (revision {remoteChange.value.revision}) while
          it is open here. Saving will show you what changed first.
        </p>
      )}
      {readOnly && (
        <p class="notice warn" role="note">
          Read-only: your role can view flags but not change them.
        </p>
      )}
      {issues.length > 0 && (
        <div class="notice bad" role="alert" data-testid="issues">
          <strong>{issues.length === 1 ? '1 problem' : `${issues.length} problems`}</strong>
          <ul>
            {issues.map((i) => (
              <li key={userKey(i.path, i.message)}>
                {humanIssue(i)}
              </li>
            ))}
          </ul>
        </div>
      )}

      <form
        preventdefault:submit
        onSubmit$={doSave}
        aria-label={creating ? 'New flag' : `Edit ${state.key}`}
        noValidate
      >
        <fieldset>
          <legend>Flag</legend>
          <div class="grid2">
            <div class="field">
              <label for="flag-key">Key</label>
              <input
                id="flag-key"
                value={state.key}
                required
                maxLength={128}
                readOnly={!creating}
                disabled={readOnly}
                aria-invalid={fieldErr('key').length ? 'true' : undefined}
                aria-describedby="flag-key-hint"
                onInput$={(_, el) => (state.key = el.value)}
              />
              <span id="flag-key-hint" class="hint">
                {creating ? 'Letters, digits and . _ : - ; cannot be changed later.' : 'Keys cannot be changed.'}
              </span>
              {fieldErr('key').map((e) => (
                <span key={userKey(e.message)} class="error-text">
                  {e.message}
                </span>
              ))}
            </div>
            <div class="field">
              <label for="flag-type">Type</label>
              <select
                id="flag-type"
                disabled={!creating || readOnly}
                onChange$={(_, el) => {
                  const fresh = newFlagState(el.value as FlagType, state.key);
                  Object.assign(state, { ...fresh, description: state.description, tags: state.tags, owner: state.owner, rules: [] });
                }}
              >
                {(['boolean', 'string', 'number', 'object'] as const).map((t) => (
                  <option key={userKey(t)} value={t} selected={state.type === t}>
                    {t === 'object' ? 'JSON object' : t}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="flag-owner">Owner</label>
              <input id="flag-owner" value={state.owner} maxLength={256} disabled={readOnly} onInput$={(_, el) => (state.owner = el.value)} />
            </div>
            <div class="field">
              <label for="flag-tags">
                Tags <span class="hint">(comma separated)</span>
              </label>
              <input id="flag-tags" value={state.tags} disabled={readOnly} onInput$={(_, el) => (state.tags = el.value)} />
              {issuesAt(issues, 'tags').map((e) => (
                <span key={userKey(e.path, e.message)} class="error-text">
                  {humanIssue(e)}
                </span>
              ))}
            </div>
          </div>
          <div class="field">
            <label for="flag-desc">Description</label>
            <textarea id="flag-desc" rows={2} maxLength={2048} disabled={readOnly} onInput$={(_, el) => (state.description = el.value)} value={state.description} />
          </div>
          <label class="row-inline u-bold">
            <input type="checkbox" checked={state.enabled} disabled={readOnly} onChange$={(_, el) => (state.enabled = el.checked)} data-testid="flag-enabled" />
            Enabled <span class="hint muted">(off = kill switch: serves the off variant)</span>
          </label>
        </fieldset>

        <fieldset>
          <legend>Variants</legend>
          {state.variants.map((v, i) => {
            const errs = issuesAt(issues, `variants.${v.name}`).concat(fieldErr(`variants[${i}]`));
            return (
              <div key={i} class="row-inline" role="group" aria-label={`Variant ${i + 1}`}>
                <label class="visually-hidden" for={`var-name-${i}`}>
                  Variant {i + 1} name
                </label>
                <input
                  id={`var-name-${i}`}
                  value={v.name}
                  placeholder="name"
                  class="u-w10"
                  disabled={readOnly}
                  data-testid={`variant-name-${i}`}
                  onInput$={(_, el) => renameVariant(state, i, el.value)}
                />
                <label class="visually-hidden" for={`var-value-${i}`}>
                  Variant {i + 1} value
                </label>
                {state.type === 'boolean' ? (
                  <select id={`var-value-${i}`} disabled={readOnly} onChange$={(_, el) => (v.value = el.value)}>
                    <Options choices={BOOLEAN_CHOICES} selected={v.value} />
                  </select>
                ) : state.type === 'object' ? (
                  <textarea
                    id={`var-value-${i}`}
                    rows={3}
                    class="u-grow u-minw14"
                    value={v.value}
                    disabled={readOnly}
                    aria-invalid={errs.length ? 'true' : undefined}
                    onInput$={(_, el) => (v.value = el.value)}
                  />
                ) : (
                  <input
                    id={`var-value-${i}`}
                    value={v.value}
                    inputMode={state.type === 'number' ? 'decimal' : undefined}
                    class="u-grow u-minw10"
                    disabled={readOnly}
                    aria-invalid={errs.length ? 'true' : undefined}
                    data-testid={`variant-value-${i}`}
                    onInput$={(_, el) => (v.value = el.value)}
                  />
                )}
                {!readOnly && (
                  <button type="button" aria-label={`Remove variant ${v.name || i + 1}`} disabled={state.variants.length <= 1} onClick$={() => state.variants.splice(i, 1)}>
                    ✕
                  </button>
                )}
                <IssueLines issues={errs} />
              </div>
            );
          })}
          {!readOnly && (
            <button
              type="button"
              onClick$={() =>
                state.variants.push({
                  name: `variant-${state.variants.length + 1}`,
                  value: state.type === 'boolean' ? 'true' : state.type === 'number' ? '0' : state.type === 'object' ? '{}' : '',
                })
              }
            >
              + Variant
            </button>
          )}
          <div class="grid2 u-mt3">
            <div class="field">
              <label for="flag-default">Default variant</label>
              <select id="flag-default" disabled={readOnly} onChange$={(_, el) => (state.defaultVariant = el.value)}>
                {variantNames.map((n) => (
                  <option key={userKey(n)} value={n} selected={n === state.defaultVariant}>
                    {n}
                  </option>
                ))}
              </select>
              {fieldErr('defaultVariant').map((e) => (
                <span key={userKey(e.message)} class="error-text">
                  {e.message}
                </span>
              ))}
            </div>
            <div class="field">
              <label for="flag-off">Off variant (served when disabled)</label>
              <select id="flag-off" disabled={readOnly} onChange$={(_, el) => (state.offVariant = el.value)}>
                <option value="" selected={state.offVariant === ''}>
                  {state.type === 'boolean' ? '(none: serves false)' : '(none: client default)'}
                </option>
                {variantNames.map((n) => (
                  <option key={userKey(n)} value={n} selected={n === state.offVariant}>
                    {n}
                  </option>
                ))}
              </select>
              {fieldErr('offVariant').map((e) => (
                <span key={userKey(e.message)} class="error-text">
                  {e.message}
                </span>
              ))}
            </div>
          </div>
        </fieldset>

        <section aria-labelledby="rules-title">
          <h2 id="rules-title">Targeting rules</h2>
          <p class="muted small">Evaluated top to bottom; the first rule that matches decides. No match serves the default variant.</p>
          {ruleIssues.filter((e) => e.path === 'rules').map((e) => (
            <p key={userKey(e.message)} class="error-text">
              {e.message}
            </p>
          ))}
          {state.rules.length === 0 && <p class="muted">No targeting rules: every evaluation serves the default variant.</p>}
          {state.rules.map((_, i) => (
            <RuleEditor key={i} state={state} index={i} issues={issues} readOnly={readOnly} segments={props.segments} />
          ))}
          {!readOnly && (
            <button type="button" data-testid="add-rule" onClick$={() => state.rules.push(newRule(state, state.rules.length))}>
              + Rule
            </button>
          )}
        </section>

        {!readOnly && (
          <div class="dialog-actions u-jstart u-mt6">
            <button type="submit" class="primary" disabled={save.isRunning} data-testid="save">
              {save.isRunning ? 'Saving…' : creating ? 'Create flag' : 'Save changes'}
            </button>
            {!creating && (
              <button
                type="button"
                onClick$={() => {
                  if (base.value) Object.assign(state, fromDefinition(base.value));
                  serverIssues.value = [];
                  notice.value = null;
                }}
              >
                Reset
              </button>
            )}
            {!creating && (
              <button
                type="button"
                class="danger u-ml-auto"
               
                data-testid="delete"
                onClick$={() => deleteRef.value?.showModal()}
              >
                Delete flag…
              </button>
            )}
          </div>
        )}
      </form>

      <dialog ref={conflictRef} aria-labelledby="conflict-title" data-testid="conflict-dialog">
        {conflict.value && (
          <>
            <h2 id="conflict-title">Someone else changed this flag</h2>
            {conflict.value.current ? (
              <p>
                <strong>{conflict.value.current.updatedBy}</strong> saved revision {conflict.value.current.modRevision} at{' '}
                {when(conflict.value.current.updatedAt)}, after you opened it. Nothing was overwritten.
              </p>
            ) : (
              <p>The flag was deleted after you opened it. Nothing was saved.</p>
            )}
            {conflict.value.current && (
              <>
                <h3>What changed meanwhile</h3>
                <DiffTable caption="Changes by others" entries={diffJson(conflict.value.base, conflict.value.current.flag)} />
              </>
            )}
            <h3>Your changes</h3>
            <DiffTable caption="Your changes" entries={diffJson(conflict.value.base, conflict.value.mine)} empty="You changed nothing." />
            <div class="dialog-actions">
              <button type="button" onClick$={() => resolve('discard')} data-testid="conflict-discard">
                Discard mine, load theirs
              </button>
              <button type="button" class="primary" onClick$={() => resolve('reapply')} data-testid="conflict-reapply">
                Reapply my changes on top
              </button>
            </div>
          </>
        )}
      </dialog>

      {!creating && (
        <TypedConfirmDialog dialogRef={deleteRef} id="delete" what="flag" idField="key" name={state.key} revision={revision.value} action={del}>
          <p>Services evaluating it will get FLAG_NOT_FOUND and fall back to their code default. History is kept.</p>
        </TypedConfirmDialog>
      )}
      {!creating && (
        <p class="small u-mt4">
          <Link href={`/flags/${encodeURIComponent(state.key)}/history`}>History of this flag →</Link>
        </p>
      )}
    </div>
  );
});
