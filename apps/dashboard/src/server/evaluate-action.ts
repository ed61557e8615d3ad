// The evaluation console's action: "what does this user get, and which rule
// decided it". The answer is the gateway's own OFREP evaluation, made with the
// signed-in user's token on the dashboard server (the browser never sees a
// token). OFREP does not say which rule matched, so the dashboard reads the
// flag and its segments (same token) and runs flag-model's explainEvaluation
// on them; it shows that rule only when the explanation gives the same
// variant and reason as the gateway, so what is shown never contradicts it.
import { routeAction$ } from '@builder.io/qwik-city';
import { explainEvaluation } from '@flagraft/flag-model';
import { conditionText, contextFromRows, parseRows, type ContextIssue } from '~/lib/eval-context';
import type { JsonValue, SegmentDefinition, StoredFlag } from '~/lib/types';
import { GatewayError, type GatewayClient } from './gateway';
import { gatewayFor, problemOf } from './request';

/** Times the flag is read again when it changed between the read and the gateway's evaluation. */
const EXPLAIN_ATTEMPTS = 3;

export interface DecidingRule {
  /** 0-based index into the flag's rules. */
  index: number;
  id?: string;
  description?: string;
  conditions: string[];
  segments: string[];
  excludeSegments: string[];
  rollout: boolean;
}

export interface EvaluationView {
  key: string;
  /** The flag revision the explanation was made from. */
  revision: number;
  value?: JsonValue;
  variant?: string;
  reason: string;
  errorCode?: string;
  errorDetails?: string;
  /** Set for TARGETING_MATCH / SPLIT (and a rule that failed with an error). */
  rule?: DecidingRule;
  /** false when the flag kept changing and the rule could not be matched to the gateway's answer. */
  explained: boolean;
  context: Record<string, JsonValue>;
}

export interface EvaluationFailure {
  message: string;
  issues?: ContextIssue[];
}

export const useEvaluate = routeAction$(async (data, ev) => {
  const key = typeof data.flag === 'string' ? data.flag.trim() : '';
  const rows = parseRows(data.attributes);
  if (!key) return ev.fail(400, { message: 'Choose a flag to evaluate.', issues: [{ path: 'flag', message: 'required' }] } as EvaluationFailure);
  if (!rows) return ev.fail(400, { message: 'attributes: a list of {name, type, value} rows is required' } as EvaluationFailure);
  const built = contextFromRows(typeof data.targetingKey === 'string' ? data.targetingKey : '', rows);
  if ('issues' in built) return ev.fail(400, { message: 'Fix the attributes below.', issues: built.issues } as EvaluationFailure);
  try {
    return { ok: true as const, result: await evaluateExplained(gatewayFor(ev), key, built.context) };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) return ev.fail(404, { message: `There is no flag “${key}”.` } as EvaluationFailure);
    const p = problemOf(err);
    return ev.fail(p.status, { message: p.message } as EvaluationFailure);
  }
});

async function evaluateExplained(gw: GatewayClient, key: string, context: Record<string, JsonValue>): Promise<EvaluationView> {
  let view: EvaluationView | undefined;
  for (let attempt = 0; attempt < EXPLAIN_ATTEMPTS; attempt++) {
    const [stored, segments] = await Promise.all([gw.getFlag(key), gw.listSegments()]);
    const answer = await ofrepAnswer(gw, key, context, stored.modRevision);
    const byName = new Map<string, SegmentDefinition>(segments.map((s) => [s.segment.name, s.segment]));
    const mine = explainEvaluation(stored.flag, key, context, (n) => byName.get(n));
    const agrees = mine.variant === answer.variant && mine.reason === answer.reason && mine.errorCode === answer.errorCode;
    view = {
      key,
      revision: stored.modRevision,
      ...answer,
      explained: agrees,
      rule: agrees && mine.ruleIndex !== undefined ? ruleView(stored, mine.ruleIndex) : undefined,
      context,
    };
    if (agrees) break;
  }
  return view!;
}

/** The gateway's answer; OFREP's error answers ({errorCode, errorDetails}) become a result with reason ERROR. */
async function ofrepAnswer(gw: GatewayClient, key: string, context: Record<string, JsonValue>, revision: number) {
  try {
    const r = await gw.evaluate(key, context, revision);
    return { value: r.value as JsonValue | undefined, variant: r.variant, reason: r.reason, errorCode: undefined, errorDetails: undefined };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    // Access, rate and availability problems are the user's to see as such, not an evaluation result.
    const body = err.body as { errorCode?: unknown; errorDetails?: unknown } | undefined;
    const errorCode = typeof body?.errorCode === 'string' ? body.errorCode : undefined;
    if (err.status === 401 || err.status === 403 || err.status === 429 || err.status >= 500 || errorCode === undefined) throw err;
    return { value: undefined, variant: undefined, reason: 'ERROR', errorCode, errorDetails: typeof body?.errorDetails === 'string' ? body.errorDetails : undefined };
  }
}

function ruleView(stored: StoredFlag, index: number): DecidingRule | undefined {
  const r = stored.flag.rules[index];
  if (!r) return undefined;
  return {
    index,
    id: r.id,
    description: r.description,
    conditions: (r.conditions ?? []).map(conditionText),
    segments: [...(r.segments ?? [])],
    excludeSegments: [...(r.excludeSegments ?? [])],
    rollout: r.rollout !== undefined,
  };
}
