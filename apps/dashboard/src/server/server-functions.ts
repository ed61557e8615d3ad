// The functions a server$ call may run. Qwik City runs whatever QRL a call
// names once its hash equals ?qfunc=, and the server build registers every
// symbol by hash: event handlers, tasks, components, and route loaders and
// actions, which are server-only like a server$ body and so not in the client
// manifest either (the fuzz suite ran the segment list's loader that way: 500).
// So server$ functions are module-level functions marked here, passed to
// server$() by reference (its QRL then resolves to this very function), and
// the session plugin runs a call only if the QRL resolves to a marked one.

const MARKED = new WeakSet<object>();

/** Marks `fn` as callable through server$ and returns it (use: `server$(serverFunction(function …))` at module level). */
export function serverFunction<F extends (...args: never[]) => unknown>(fn: F): F {
  MARKED.add(fn);
  return fn;
}

export function isServerFunction(fn: unknown): boolean {
  return typeof fn === 'function' && MARKED.has(fn);
}
