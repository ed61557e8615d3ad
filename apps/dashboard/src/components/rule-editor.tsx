import { component$ } from '@builder.io/qwik';
import { issuesAt, weightShares, type EditorState } from '~/lib/editor-model';
import type { ValidationIssue } from '~/lib/types';
import { ConditionRows } from './condition-rows';
import { SegmentPicker } from './segment-picker';
import type { SegmentChoice } from '~/lib/segment-usage';
import { humanIssue } from '~/lib/human-path';
import { userKey } from '~/lib/jsx-key';

/** One ordered targeting rule: conditions, segments, then a variant or a rollout. */
export const RuleEditor = component$(
  (props: { state: EditorState; index: number; issues: ValidationIssue[]; readOnly: boolean; segments: SegmentChoice[] }) => {
    const i = props.index;
    const rule = props.state.rules[i];
    const rules = props.state.rules;
    const path = `rules[${i}]`;
    const errs = issuesAt(props.issues, path);
    const own = errs.filter((e) => !e.path.startsWith(`${path}.conditions`));
    const id = `rule-${i}`;
    const shares = weightShares(rule.weights);
    const total = rule.weights.reduce((a, w) => a + (Number(w.weight) || 0), 0);
    return (
      <fieldset class="rule" aria-labelledby={`${id}-title`} data-testid={`rule-${i}`}>
        <div class="rule-head">
          <h3 id={`${id}-title`} class="u-m0">
            Rule {i + 1}
            {rule.description ? `: ${rule.description}` : ''}
          </h3>
          {!props.readOnly && (
            <div class="row-inline u-m0">
              <button type="button" disabled={i === 0} aria-label={`Move rule ${i + 1} up`} onClick$={() => rules.splice(i - 1, 2, rules[i], rules[i - 1])}>
                ↑
              </button>
              <button
                type="button"
                disabled={i === rules.length - 1}
                aria-label={`Move rule ${i + 1} down`}
                onClick$={() => rules.splice(i, 2, rules[i + 1], rules[i])}
              >
                ↓
              </button>
              <button type="button" class="danger" aria-label={`Remove rule ${i + 1}`} onClick$={() => rules.splice(i, 1)}>
                Remove
              </button>
            </div>
          )}
        </div>
        <div class="grid2">
          <div class="field">
            <label for={`${id}-id`}>Rule id</label>
            <input id={`${id}-id`} value={rule.id} disabled={props.readOnly} onInput$={(_, el) => (rule.id = el.value)} />
          </div>
          <div class="field">
            <label for={`${id}-desc`}>Description</label>
            <input id={`${id}-desc`} value={rule.description} disabled={props.readOnly} onInput$={(_, el) => (rule.description = el.value)} />
          </div>
        </div>
        <h4 class="u-my1">If all of these match</h4>
        <ConditionRows rows={rule.conditions} idPrefix={`${id}-cond`} pathPrefix={`${path}.conditions`} issues={props.issues} readOnly={props.readOnly} />
        <SegmentPicker rule={rule} idPrefix={id} choices={props.segments} readOnly={props.readOnly} />
        <fieldset>
          <legend>Serve</legend>
          <div class="row-inline">
            <label>
              <input
                type="radio"
                name={`${id}-mode`}
                value="variant"
                checked={rule.mode === 'variant'}
                disabled={props.readOnly}
                onChange$={() => (rule.mode = 'variant')}
              />{' '}
              One variant
            </label>
            <label>
              <input
                type="radio"
                name={`${id}-mode`}
                value="rollout"
                checked={rule.mode === 'rollout'}
                disabled={props.readOnly}
                data-testid={`rule-${i}-rollout`}
                onChange$={() => {
                  rule.mode = 'rollout';
                  // Offer every variant, keeping weights already typed.
                  const have = new Set(rule.weights.map((w) => w.variant));
                  for (const v of props.state.variants) if (v.name && !have.has(v.name)) rule.weights.push({ variant: v.name, weight: '0' });
                }}
              />{' '}
              Percentage rollout
            </label>
          </div>
          {rule.mode === 'variant' ? (
            <div class="field">
              <label for={`${id}-variant`}>Variant</label>
              <select id={`${id}-variant`} disabled={props.readOnly} onChange$={(_, el) => (rule.variant = el.value)}>
                {props.state.variants.map((v) => (
                  <option key={userKey(v.name)} value={v.name} selected={v.name === rule.variant}>
                    {v.name}
                  </option>
                ))}
              </select>
            </div>
          ) : (
            <div>
              <div class="bar" role="img" aria-label={shares.map((s) => `${s.variant} ${s.pct.toFixed(1)}%`).join(', ')}>
                {shares.map((s) =>
                  s.pct > 0 ? (
                    <span key={userKey(s.variant)} class={`w-${Math.round(s.pct)}`} title={`${s.variant}: ${s.pct.toFixed(1)}%`}>
                      {s.pct >= 8 ? `${s.variant} ${Math.round(s.pct)}%` : ''}
                    </span>
                  ) : null,
                )}
              </div>
              <p class={total === 100 ? 'muted small' : 'error-text'} aria-live="polite" data-testid={`rule-${i}-total`}>
                Total {total}% {total === 100 ? '✓' : '— weights must add up to 100%'}
              </p>
              {rule.weights.map((w, j) => (
                <div key={j} class="row-inline">
                  <label for={`${id}-w-${j}`} class="u-minw8">
                    <code>{w.variant}</code>
                  </label>
                  <input
                    id={`${id}-w-${j}`}
                    type="number"
                    min="0"
                    max="100"
                    step="1"
                    class="u-w6"
                    value={w.weight}
                    disabled={props.readOnly}
                    data-testid={`rule-${i}-weight-${w.variant}`}
                    onInput$={(_, el) => (w.weight = el.value)}
                  />
                  <span class="muted">%</span>
                </div>
              ))}
              <div class="field u-maxw320">
                <label for={`${id}-bucket`}>
                  Bucket by <span class="hint">(context attribute; default targetingKey)</span>
                </label>
                <input id={`${id}-bucket`} value={rule.bucketBy} placeholder="targetingKey" disabled={props.readOnly} onInput$={(_, el) => (rule.bucketBy = el.value)} />
              </div>
            </div>
          )}
        </fieldset>
        {own.map((e) => (
          <p key={userKey(e.path, e.message)} class="error-text">
            {humanIssue(e)}
          </p>
        ))}
      </fieldset>
    );
  },
);
