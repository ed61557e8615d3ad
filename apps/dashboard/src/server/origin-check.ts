// The Origin check on state-changing requests (issue 12). Qwik City's own
// check covers form content types only; actions and server$ calls also travel
// as JSON, and a JSON POST with the user's cookie from another site is just
// as able to change something. So every request that is not GET/HEAD/OPTIONS
// must carry our Origin, whatever its content type; one without an Origin is
// refused too (every browser sends it on such requests).

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why this request is refused as cross-origin, or undefined when it may go on. */
export function crossOriginProblem(method: string, origin: string | null, ours: string): string | undefined {
  if (SAFE_METHODS.has(method)) return undefined;
  if (origin === ours) return undefined;
  return `Origin ${JSON.stringify(origin ?? '(none)')} is not ${ours}`;
}
