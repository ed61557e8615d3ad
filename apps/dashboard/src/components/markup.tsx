// Small pieces of markup every page repeated: a table's column headings, a
// select's options, a field's issue lines. Inline components: they add no
// lazy-loaded chunk (the flag list's first-load JS budget, ux.e2e.test.ts).
import { humanIssue } from '~/lib/human-path';
import { userKey } from '~/lib/jsx-key';
import type { ValidationIssue } from '~/lib/types';

/** A table's heading row: one column heading (scope col) per name. */
export const ColumnHeads = (props: { names: readonly string[] }) => (
  <thead>
    <tr>
      {props.names.map((n) => (
        <th key={userKey(n)} scope="col">
          {n}
        </th>
      ))}
    </tr>
  </thead>
);

/** A select's options, each [value, label] or a value shown as it is; the one equal to `selected` is chosen. */
export const Options = (props: { choices: readonly (string | readonly [string, string])[]; selected: string }) => (
  <>
    {props.choices.map((c) => {
      const [value, label] = typeof c === 'string' ? [c, c] : c;
      return (
        <option key={userKey(value)} value={value} selected={value === props.selected}>
          {label}
        </option>
      );
    })}
  </>
);

/** A row's validation problems in words, one line each across the whole row. */
export const IssueLines = (props: { issues: readonly ValidationIssue[] }) => (
  <>
    {props.issues.map((e) => (
      <p key={userKey(e.path, e.message)} class="error-text u-full-row">
        {humanIssue(e)}
      </p>
    ))}
  </>
);
