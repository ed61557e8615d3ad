import { component$ } from '@builder.io/qwik';
import type { ConditionRow } from '~/lib/editor-model';
import { CONDITION_OPS, type ValidationIssue } from '~/lib/types';
import { userKey } from '~/lib/jsx-key';
import { IssueLines } from './markup';

/** Editable list of conditions (rules and segments share it). */
export const ConditionRows = component$(
  (props: { rows: ConditionRow[]; idPrefix: string; pathPrefix: string; issues: ValidationIssue[]; readOnly: boolean }) => {
    return (
      <div>
        {props.rows.length === 0 && <p class="muted small">No conditions: matches every context.</p>}
        {props.rows.map((c, j) => {
          const kind = CONDITION_OPS.find((o) => o.op === c.op)?.value ?? 'text';
          const path = `${props.pathPrefix}[${j}]`;
          const errs = props.issues.filter((i) => i.path === path || i.path.startsWith(path + '.'));
          const id = `${props.idPrefix}-${j}`;
          return (
            <div key={j} class="row-inline" role="group" aria-label={`Condition ${j + 1}`}>
              <label class="visually-hidden" for={`${id}-attr`}>
                Attribute
              </label>
              <input
                id={`${id}-attr`}
                placeholder="attribute, e.g. country"
                value={c.attribute}
                disabled={props.readOnly}
                aria-invalid={errs.some((e) => e.path.endsWith('attribute')) ? 'true' : undefined}
                onInput$={(_, el) => (c.attribute = el.value)}
              />
              <label class="visually-hidden" for={`${id}-op`}>
                Operator
              </label>
              <select id={`${id}-op`} disabled={props.readOnly} onChange$={(_, el) => (c.op = el.value)}>
                {CONDITION_OPS.map((o) => (
                  <option key={userKey(o.op)} value={o.op} selected={o.op === c.op}>
                    {o.label}
                  </option>
                ))}
              </select>
              {kind !== 'none' && (
                <>
                  <label class="visually-hidden" for={`${id}-val`}>
                    Value
                  </label>
                  <input
                    id={`${id}-val`}
                    placeholder={kind === 'list' ? 'a, b, c' : kind === 'number' ? '0' : 'value'}
                    inputMode={kind === 'number' ? 'decimal' : undefined}
                    value={c.value}
                    disabled={props.readOnly}
                    aria-invalid={errs.some((e) => e.path.endsWith('value')) ? 'true' : undefined}
                    onInput$={(_, el) => (c.value = el.value)}
                  />
                </>
              )}
              {!props.readOnly && (
                <button type="button" aria-label={`Remove condition ${j + 1}`} onClick$={() => props.rows.splice(j, 1)}>
                  ✕
                </button>
              )}
              <IssueLines issues={errs} />
            </div>
          );
        })}
        {!props.readOnly && (
          <button type="button" onClick$={() => props.rows.push({ attribute: '', op: 'equals', value: '', valueType: 'string' })}>
            + Condition
          </button>
        )}
      </div>
    );
  },
);
