// What Qwik City itself would answer with a 500 for, checked first so a
// malformed action post or server$ call is a 400 that says what is wrong
// (issue 12: hostile input never yields a 5xx). Qwik City 1.20.1:
// - an action (POST ?qaction=<id>) whose data is not an object throws
//   "Expected request data for the action id … to be an object";
// - a server$ call (?qfunc=<hash>, X-QRL: <hash>, Content-Type
//   application/qwik-json) whose data is not [qrl, ...args] with that hash
//   answers `ev.error(500, "Invalid request")`.
//
// And one thing Qwik City lets through: it runs whatever QRL the call names,
// as long as its hash equals ?qfunc=, and the server build registers every
// symbol (event handlers, tasks, components) by hash. A crafted call naming an
// onClick$ handler or a useVisibleTask$ ran that client code on the server
// (found by replaying a real server$ body with another symbol's hash: 500s,
// and a task's timers would keep running in the server process). The client
// manifest lists every symbol that is client code; a server$ function is not
// in it (its body exists only in the server build), so a call naming a
// client symbol is refused.

export const QACTION_PARAM = 'qaction';
export const QFUNC_PARAM = 'qfunc';
export const QWIK_JSON = 'application/qwik-json';

/** The request is a server$ call the way Qwik City recognises one (same three conditions). */
export function isServerFunctionCall(query: URLSearchParams, headers: Headers): boolean {
  const fn = query.get(QFUNC_PARAM);
  return !!fn && headers.get('x-qrl') === fn && headers.get('content-type') === QWIK_JSON;
}

/** Why action data cannot be run, or undefined: form fields or a JSON object are what actions take. */
export function actionDataProblem(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return 'action data must be form fields or a JSON object';
  }
  return undefined;
}

/**
 * The hashes of every client symbol in a Qwik manifest: `mapping` (symbol ->
 * chunk, `s_<hash>`; all the server build embeds) and `symbols` (each with its
 * `hash`; the full manifest in dist/).
 */
export function clientSymbolHashes(
  manifest: { mapping?: Record<string, string>; symbols?: Record<string, { hash?: string }> } | undefined,
): ReadonlySet<string> {
  const out = new Set<string>();
  for (const name of Object.keys(manifest?.mapping ?? {})) out.add(name.replace(/^s_/, ''));
  for (const [name, sym] of Object.entries(manifest?.symbols ?? {})) out.add(sym?.hash ?? name.replace(/^s_/, ''));
  return out;
}

/**
 * Why a server$ call's data cannot be run, or undefined: Qwik sends [the
 * function's QRL, ...arguments], and the function must not be client code
 * (`clientSymbols`, from clientSymbolHashes()).
 */
export function serverCallProblem(data: unknown, fn: string, clientSymbols: ReadonlySet<string> = new Set()): string | undefined {
  if (clientSymbols.has(fn)) return `${QFUNC_PARAM} names client code, not a server function`;
  if (!Array.isArray(data) || data.length === 0) return 'a server function call must be [function, ...arguments]';
  // A QRL is a function with getSymbol/getHash (Qwik City's isQrl).
  const qrl = data[0] as ((...a: unknown[]) => unknown) & { getSymbol?: unknown; getHash?: unknown };
  if (typeof qrl !== 'function' || typeof qrl.getSymbol !== 'function' || typeof qrl.getHash !== 'function') {
    return 'a server function call must start with the function reference';
  }
  if ((qrl.getHash as () => unknown)() !== fn) return `the function reference does not match ${QFUNC_PARAM}`;
  return undefined;
}
