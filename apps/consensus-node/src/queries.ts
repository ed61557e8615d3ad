// The reads of QueryRequest (proto/flags.proto): environments, change
// requests, schedules, the dry run of a promotion, and the global audit log
// (audit-log.ts). Answers are JSON-able
// values; bad arguments are INVALID_ARGUMENT naming the argument.
import { promotionPlan } from '@flagraft/flag-model';
import { auditQuery } from './audit-log.js';
import { ApiError } from './errors.js';
import type { StateMachine } from './state-machine.js';

export const QUERIES = ['environments', 'changeRequests', 'changeRequest', 'schedules', 'schedule', 'promotionPlan', 'changes'] as const;

function str(args: Record<string, unknown>, k: string): string {
  const v = args[k];
  if (typeof v !== 'string' || v === '') throw ApiError.of('INVALID_ARGUMENT', `args_json.${k} must be a non-empty string`);
  return v;
}

export function queryState(state: StateMachine, what: string, args: Record<string, unknown>): unknown {
  const parse = (j: string) => JSON.parse(j) as unknown;
  switch (what) {
    case 'environments': return state.records('environments').map(parse);
    case 'changeRequests': return state.records('change_requests').map(parse);
    case 'schedules': return state.records('schedules').map(parse);
    case 'changeRequest': {
      const id = str(args, 'id');
      const cr = state.view.getChangeRequest(id);
      if (!cr) throw ApiError.of('NOT_FOUND', `change request "${id}" does not exist`);
      return cr;
    }
    case 'schedule': {
      const id = str(args, 'id');
      const s = state.view.getSchedule(id);
      if (!s) throw ApiError.of('NOT_FOUND', `schedule "${id}" does not exist`);
      return s;
    }
    case 'changes': return auditQuery(state, args);
    case 'promotionPlan': {
      const keys = args.keys;
      if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) throw ApiError.of('INVALID_ARGUMENT', 'args_json.keys must be an array of flag keys');
      const plan = promotionPlan(state.view, str(args, 'from'), str(args, 'to'), keys as string[] | undefined);
      if (typeof plan === 'string') throw ApiError.of(plan.includes('does not exist') ? 'NOT_FOUND' : 'INVALID_ARGUMENT', plan);
      return plan;
    }
  }
  throw ApiError.of('INVALID_ARGUMENT', `what must be one of ${QUERIES.join(', ')}, got "${what}"`);
}
