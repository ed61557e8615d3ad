import { $, component$, useSignal, useStore } from '@builder.io/qwik';
import { Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { ATTRIBUTE_TYPES, type AttributeType, type ContextRow } from '~/lib/eval-context';
import { userKey } from '~/lib/jsx-key';
import { getConfig } from '~/server/config';
import { allFlags } from '~/server/list-cache';
import { gatewayFor } from '~/server/request';
import type { EvaluationFailure, EvaluationView } from '~/server/evaluate-action';

export { useEvaluate } from '~/server/evaluate-action';
import { useEvaluate } from '~/server/evaluate-action';

/** Flag keys offered as suggestions in the flag field (a datalist; any key can be typed). */
const MAX_FLAG_SUGGESTIONS = 500;

export const useFlagKeys = routeLoader$(async (ev) => {
  const cfg = getConfig();
  try {
    const { flags } = await allFlags(gatewayFor(ev), cfg.gatewayUrl, cfg.feedToken, cfg.gatewayTimeoutMs);
    return flags.slice(0, MAX_FLAG_SUGGESTIONS).map((f) => f.flag.key);
  } catch {
    return [] as string[];
  }
});

const blankRow = (): ContextRow => ({ name: '', type: 'string', value: '' });

export default component$(() => {
  const keys = useFlagKeys();
  const loc = useLocation();
  const evaluate = useEvaluate();
  const flag = useSignal(loc.url.searchParams.get('flag') ?? '');
  const targetingKey = useSignal('');
  const form = useStore<{ rows: ContextRow[] }>({ rows: [blankRow()] });

  const run = $(async () => {
    await evaluate.submit({ flag: flag.value, targetingKey: targetingKey.value, attributes: JSON.stringify(form.rows) });
  });

  const out = evaluate.value as ({ failed: true } & EvaluationFailure) | { ok: true; result: EvaluationView } | undefined;
  const failure = out && 'failed' in out ? out : undefined;
  const result = out && 'ok' in out ? out.result : undefined;
  const issueAt = (path: string) => failure?.issues?.find((i) => i.path === path)?.message;

  return (
    <section aria-labelledby="eval-title">
      <div class="page-head">
        <h1 id="eval-title">Evaluate</h1>
        <span class="muted small">What does a user with these attributes get, and which rule decided it. Evaluated by the gateway (OFREP) as you.</span>
      </div>
      <form
        class="panel"
        preventdefault:submit
        onSubmit$={run}
        aria-describedby="eval-help"
      >
        <p id="eval-help" class="muted small u-m0">
          Attributes are the evaluation context: name, type and value. JSON takes any value (an object, a list).
        </p>
        <div class="grid2 u-mt3">
          <div class="field">
            <label for="eval-flag">Flag key</label>
            <input id="eval-flag" {...{ list: 'eval-flag-keys' }} value={flag.value} required onInput$={(_, el) => (flag.value = el.value)} />
            <datalist id="eval-flag-keys">
              {keys.value.map((k) => (
                <option key={userKey(k)} value={k} />
              ))}
            </datalist>
            {issueAt('flag') && <p class="error-text">{issueAt('flag')}</p>}
          </div>
          <div class="field">
            <label for="eval-tk">
              Targeting key <span class="hint">(user id; rollouts split by it)</span>
            </label>
            <input id="eval-tk" value={targetingKey.value} onInput$={(_, el) => (targetingKey.value = el.value)} />
            {issueAt('targetingKey') && <p class="error-text">{issueAt('targetingKey')}</p>}
          </div>
        </div>
        <fieldset>
          <legend>Attributes</legend>
          {form.rows.map((r, i) => (
            <div key={i} class="row-inline attr-row" data-testid={`eval-attr-${i}`}>
              <label class="visually-hidden" for={`eval-attr-${i}-name`}>
                Attribute {i + 1} name
              </label>
              <input id={`eval-attr-${i}-name`} placeholder="name, e.g. country" value={r.name} onInput$={(_, el) => (r.name = el.value)} />
              <label class="visually-hidden" for={`eval-attr-${i}-type`}>
                Attribute {i + 1} type
              </label>
              <select id={`eval-attr-${i}-type`} onChange$={(_, el) => (r.type = el.value as AttributeType)}>
                {ATTRIBUTE_TYPES.map((t) => (
                  <option key={userKey(t)} value={t} selected={t === r.type}>
                    {t}
                  </option>
                ))}
              </select>
              <label class="visually-hidden" for={`eval-attr-${i}-val`}>
                Attribute {i + 1} value
              </label>
              <input id={`eval-attr-${i}-val`} placeholder="value" value={r.value} onInput$={(_, el) => (r.value = el.value)} />
              <button type="button" aria-label={`Remove attribute ${i + 1}`} onClick$={() => form.rows.splice(i, 1)}>
                ✕
              </button>
              {(issueAt(`attributes[${i}].name`) || issueAt(`attributes[${i}].value`)) && (
                <p class="error-text u-m0">{issueAt(`attributes[${i}].name`) ?? issueAt(`attributes[${i}].value`)}</p>
              )}
            </div>
          ))}
          <button type="button" data-testid="eval-add-attr" onClick$={() => form.rows.push(blankRow())}>
            + Attribute
          </button>
        </fieldset>
        <p class="u-mt3">
          <button type="submit" class="primary" data-testid="eval-submit" disabled={evaluate.isRunning}>
            {evaluate.isRunning ? 'Evaluating…' : 'Evaluate'}
          </button>
        </p>
        {failure && (
          <p class="notice bad" role="alert" data-testid="eval-error">
            {failure.message}
          </p>
        )}
      </form>
      {result && <ResultPanel r={result} />}
    </section>
  );
});

const ResultPanel = component$((props: { r: EvaluationView }) => {
  const r = props.r;
  return (
    <section class="panel" aria-labelledby="eval-result-title" data-testid="eval-result" data-reason={r.reason} data-variant={r.variant ?? ''}>
      <h2 id="eval-result-title" class="u-m0">
        <Link href={`/flags/${encodeURIComponent(r.key)}`}>
          <code>{r.key}</code>
        </Link>{' '}
        <span class="muted small">at revision {r.revision}</span>
      </h2>
      <dl class="facts">
        <dt>Value</dt>
        <dd>
          <code data-testid="eval-value">{r.value === undefined ? '(none: the client uses its code default)' : JSON.stringify(r.value)}</code>
        </dd>
        <dt>Variant</dt>
        <dd data-testid="eval-variant">{r.variant ?? '—'}</dd>
        <dt>Reason</dt>
        <dd data-testid="eval-reason">
          {r.reason}
          {r.errorCode ? ` (${r.errorCode}${r.errorDetails ? `: ${r.errorDetails}` : ''})` : ''}
        </dd>
        <dt>Decided by</dt>
        <dd data-testid="eval-rule" data-rule-index={r.rule ? String(r.rule.index) : ''}>
          {r.rule ? (
            <>
              <strong>
                Rule {r.rule.index + 1}
                {r.rule.id ? ` (${r.rule.id})` : ''}
              </strong>
              {r.rule.description ? `: ${r.rule.description}` : ''}
              <ul class="u-m0">
                {r.rule.conditions.length === 0 && r.rule.segments.length === 0 && r.rule.excludeSegments.length === 0 && <li>no conditions (everyone)</li>}
                {r.rule.conditions.map((c, j) => (
                  <li key={j}>
                    <code>{c}</code>
                  </li>
                ))}
                {r.rule.segments.map((s) => (
                  <li key={userKey('in', s)}>
                    in segment{' '}
                    <Link href={`/segments/${encodeURIComponent(s)}`}>
                      <code>{s}</code>
                    </Link>
                  </li>
                ))}
                {r.rule.excludeSegments.map((s) => (
                  <li key={userKey('out', s)}>
                    not in segment <code>{s}</code>
                  </li>
                ))}
                {r.rule.rollout && <li>percentage rollout: the variant comes from the targeting key's bucket</li>}
              </ul>
            </>
          ) : !r.explained ? (
            <span class="muted">The flag kept changing while it was evaluated; evaluate again to see the rule.</span>
          ) : r.reason === 'DEFAULT' ? (
            'No rule matched: the default variant'
          ) : r.reason === 'DISABLED' ? (
            'The flag is disabled: the off variant'
          ) : r.reason === 'STATIC' ? (
            'The flag has no rules: the default variant'
          ) : (
            '—'
          )}
        </dd>
        <dt>Context sent</dt>
        <dd>
          <code class="small" data-testid="eval-context">
            {JSON.stringify(r.context)}
          </code>
        </dd>
      </dl>
    </section>
  );
});

export const head: DocumentHead = { title: 'Evaluate' };
