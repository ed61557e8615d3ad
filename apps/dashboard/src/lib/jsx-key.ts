// Keys for Qwik's keyed lists. Qwik 1.20.1 reconciles keyed children through
// a plain object (core.mjs createKeyToOldIdx: `const map = {}; map[key] = i`),
// so a key naming an Object.prototype member ("constructor", "toString",
// "__proto__", "valueOf"…) finds the prototype's value instead of "no such
// child", and the client render throws `Cannot read properties of undefined`
// half-way: a variant renamed to "constructor" broke the editor's variant
// <select>s and the save result was never shown. Every key that can carry
// user data (variant, flag, segment, tag names, problem messages) goes through
// userKey(), whose prefix no prototype member has.

/** A list key that cannot collide with an Object.prototype member. */
export function userKey(...parts: (string | number)[]): string {
  // A separator that cannot appear in JSON-safe names or messages, so ("a b", "c") and ("a", "b c") differ.
  return 'k:' + parts.join('\u0000');
}
