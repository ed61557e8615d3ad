// The one check no write path skips (apply.ts runs it on the changes every
// direct command would make): a change that reaches a protected environment
// (approval policy with approvalsRequired > 0) is refused unless it is made by
// applying an approved change request of that environment (ctx.unlocked).
//
// What reaches an environment:
//  - a flag change in it, except the arrival of a new flag switched off with
//    no offVariant (environments.ts defaultConfigFor: creating a flag in
//    staging must not need production's approvers, and serves nothing there);
//  - a segment change, when a flag of that environment uses the segment
//    (segments are shared; their use is per environment);
//  - a change of the environment itself, other than its display name
//    (lowering its policy is a protected change like any other).
// Change requests, comments, approvals and schedules are not writes into an
// environment: their own rules (change-requests.ts, schedules.ts) apply.
import { isProtected } from './environments.js';
import { changeEnv } from './overlay.js';
import type { Ctx } from './apply-ops.js';
import type { Change, CommandError, StateView, StoredEnvironment, StoredFlag } from './types.js';

/** The refusal for the first change that reaches a protected environment, or undefined. `view`: the state before the command. */
export function protectionError(view: StateView, changes: readonly Change[], ctx: Ctx): CommandError | undefined {
  for (const c of changes) {
    for (const env of reachedEnvironments(view, c)) {
      if (env === ctx.unlocked || !isProtected(view.getEnvironment(env))) continue;
      const n = view.getEnvironment(env)!.environment.policy!.approvalsRequired;
      return {
        code: 'PROTECTED', env, key: c.key,
        message: `environment "${env}" is protected (its policy requires ${n} approval${n > 1 ? 's' : ''}): the direct ${c.op} of ${c.kind} "${c.key}" is refused; `
          + `propose it as a change request (op "changeRequest", action "create", env "${env}") and apply it once approved`,
      };
    }
  }
  return undefined;
}

function reachedEnvironments(view: StateView, c: Change): string[] {
  switch (c.kind) {
    case 'flag': {
      const after = c.after as StoredFlag | null;
      const arrivesOff = c.before === null && after !== null && !after.flag.enabled && after.flag.offVariant === undefined;
      return arrivesOff ? [] : [changeEnv(view, c)];
    }
    case 'segment':
      return view.environmentNames().filter((env) => view.segmentUsersIn(env, c.key).length > 0);
    case 'environment': {
      const b = c.before as StoredEnvironment | null;
      const a = c.after as StoredEnvironment | null;
      if (!b) return [];
      const onlyDisplayName = a && JSON.stringify({ ...a.environment, displayName: undefined }) === JSON.stringify({ ...b.environment, displayName: undefined });
      return onlyDisplayName ? [] : [c.key];
    }
    default:
      return [];
  }
}
