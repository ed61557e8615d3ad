import { component$, useSignal } from '@builder.io/qwik';
import { withName, type RuleRow } from '~/lib/editor-model';
import type { SegmentChoice } from '~/lib/segment-usage';
import { userKey } from '~/lib/jsx-key';
import { ColumnHeads } from './markup';

/** Above this many segments the picker offers a filter box. */
const FILTER_FROM = 8;

/**
 * A rule's segments, picked from the list: per segment "in" (all checked must
 * match) and "not in" (none may match), with the flags already using it. A
 * name the rule holds that is not in the list (deleted meanwhile, or the list
 * could not be read) stays shown, marked missing, so saving never drops it silently.
 */
export const SegmentPicker = component$((props: { rule: RuleRow; idPrefix: string; choices: SegmentChoice[]; readOnly: boolean }) => {
  const filter = useSignal('');
  const rule = props.rule;
  const known = new Set(props.choices.map((c) => c.name));
  const missing = [...rule.segments, ...rule.excludeSegments].filter((n) => !known.has(n));
  const rows: (SegmentChoice & { missing?: boolean })[] = [
    ...props.choices,
    ...[...new Set(missing)].map((name) => ({ name, description: '', usedBy: [], usedByCount: 0, missing: true })),
  ];
  const f = filter.value.trim().toLowerCase();
  // Picked segments always stay visible whatever the filter.
  const shown = f ? rows.filter((r) => r.name.toLowerCase().includes(f) || rule.segments.includes(r.name) || rule.excludeSegments.includes(r.name)) : rows;
  const id = props.idPrefix;
  return (
    <fieldset class="seg-picker" data-testid={`${id}-segments`}>
      <legend>
        Segments <span class="hint">(“in”: all must match · “not in”: none may match)</span>
      </legend>
      {rows.length === 0 ? (
        <p class="muted small u-m0">
          No segments yet. <a href="/segments/new">Create one</a>.
        </p>
      ) : (
        <>
          {rows.length > FILTER_FROM && (
            <div class="field u-maxw320">
              <label for={`${id}-seg-filter`}>Filter segments</label>
              <input id={`${id}-seg-filter`} type="search" value={filter.value} onInput$={(_, el) => (filter.value = el.value)} />
            </div>
          )}
          <div class="table-wrap">
            <table class="seg-table">
              <ColumnHeads names={['Segment', 'In', 'Not in', 'Used by']} />
              <tbody>
                {shown.map((c) => {
                  return (
                    <tr key={userKey(c.name)} data-segment={c.name}>
                      <th scope="row">
                        <code>{c.name}</code>
                        {c.missing && <span class="error-text small"> (missing)</span>}
                        {c.description && <span class="muted small"> — {c.description}</span>}
                      </th>
                      <td>
                        <SegmentCheck rule={rule} name={c.name} list="segments" label={`Rule matches only in ${c.name}`} testId={`${id}-seg-in-${c.name}`} readOnly={props.readOnly} />
                      </td>
                      <td>
                        <SegmentCheck rule={rule} name={c.name} list="excludeSegments" label={`Rule never matches in ${c.name}`} testId={`${id}-seg-out-${c.name}`} readOnly={props.readOnly} />
                      </td>
                      <td class="small" data-testid={`${id}-seg-used-${c.name}`}>
                        {c.usedByCount === 0 ? (
                          <span class="muted">no flag</span>
                        ) : (
                          <>
                            {c.usedBy.map((k, j) => (
                              <span key={userKey(k)}>
                                {j > 0 && ', '}
                                <a href={`/flags/${encodeURIComponent(k)}`}>
                                  <code>{k}</code>
                                </a>
                              </span>
                            ))}
                            {c.usedByCount > c.usedBy.length && <span class="muted"> and {c.usedByCount - c.usedBy.length} more</span>}
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </fieldset>
  );
});

/** One "in" or "not in" box: checking one side clears the other (a segment cannot be both). */
const SegmentCheck = component$(
  (props: { rule: RuleRow; name: string; list: 'segments' | 'excludeSegments'; label: string; testId: string; readOnly: boolean }) => {
    const rule = props.rule;
    return (
      <input
        type="checkbox"
        aria-label={props.label}
        data-testid={props.testId}
        checked={rule[props.list].includes(props.name)}
        disabled={props.readOnly}
        onChange$={(_, el) => {
          const other = props.list === 'segments' ? 'excludeSegments' : 'segments';
          rule[props.list] = withName(rule[props.list], props.name, el.checked);
          if (el.checked) rule[other] = withName(rule[other], props.name, false);
        }}
      />
    );
  },
);
