// Builders shared by the unit tests (excluded from nothing: tiny and pure).
import { applyCommand, type MemoryStateView } from './apply.js';
import { decodeCommand, encodeCommand } from './commands.js';
import type { ApplyResult, Command, CommandError, FlagDefinition, SegmentDefinition } from './types.js';

export function boolFlag(key = 'new-checkout', extra: Partial<FlagDefinition> = {}): FlagDefinition {
  return { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'off', enabled: true, rules: [], ...extra };
}

export function segment(name = 'beta', extra: Partial<SegmentDefinition> = {}): SegmentDefinition {
  return { name, conditions: [{ attribute: 'plan', op: 'equals', value: 'beta' }], ...extra };
}

export function cmd<T extends object>(body: T, actor = 'alice', time = 1_700_000_000_000): Command {
  return { v: 1, actor, time, requestId: 'r1', clientId: 'c1', ...body } as unknown as Command;
}

/**
 * Applies commands as consecutive revisions, each through the command codec
 * (as a node would receive it), committing what succeeds; `rev` is the last
 * revision handed out.
 */
export function revisions(): { run(view: MemoryStateView, c: Command): ApplyResult; readonly rev: number } {
  let rev = 0;
  return {
    run(view, c) {
      const r = applyCommand(view, decodeCommand(encodeCommand(c)), ++rev);
      if (r.ok) view.commit(r.changes);
      return r;
    },
    get rev() { return rev; },
  };
}

export const errOf = (r: ApplyResult): CommandError | undefined => (r.ok ? undefined : r.error);
