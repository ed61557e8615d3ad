// Small helpers shared by validation, commands and evaluation.

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

export function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** UTF-8 byte length of a string without allocating (lone surrogates count 3, as TextEncoder's U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Deep-freezes a JSON value built by this package (no cycles by construction). */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v as object)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** Path helpers: `a.b`, `a[3]`, `variants["odd name"]`. */
const SIMPLE_SEGMENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
export function fieldPath(base: string, field: string): string {
  if (SIMPLE_SEGMENT.test(field)) return base ? `${base}.${field}` : field;
  return `${base}[${JSON.stringify(field)}]`;
}
export function indexPath(base: string, i: number): string {
  return `${base}[${i}]`;
}
