/** Something in a flagd document (import) or a flagraft flag (export) that did not map exactly. */
export interface Issue {
  /** JSON path in the source document: `flags.my-flag.targeting.if[0].in[1]`. */
  path: string;
  /** error: not mapped, left out. warning: mapped, with a documented difference in edge cases. */
  severity: 'error' | 'warning';
  message: string;
}
