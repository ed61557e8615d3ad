import { component$ } from '@builder.io/qwik';
import type { DiffEntry } from '~/lib/diff';
import { userKey } from '~/lib/jsx-key';
import { ColumnHeads } from './markup';

/** A readable field-by-field diff: path, before, after. */
export const DiffTable = component$((props: { entries: DiffEntry[]; caption: string; empty?: string }) => {
  if (props.entries.length === 0) return <p class="muted small">{props.empty ?? 'No differences.'}</p>;
  return (
    <div class="table-wrap">
      <table class="diff">
        <caption class="visually-hidden">{props.caption}</caption>
        <ColumnHeads names={['Field', 'Before', 'After']} />
        <tbody>
          {props.entries.map((d) => (
            <tr key={userKey(d.path)}>
              <td>{d.path || '(whole document)'}</td>
              <td class={d.kind !== 'added' ? 'before' : ''}>{d.kind === 'added' ? <span class="muted">—</span> : d.before}</td>
              <td class={d.kind !== 'removed' ? 'after' : ''}>{d.kind === 'removed' ? <span class="muted">—</span> : d.after}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
});
