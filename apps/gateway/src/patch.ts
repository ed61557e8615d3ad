// PATCH bodies for flags: RFC 7396 JSON Merge Patch (an object: {"enabled":false},
// {"defaultVariant":"on"}) or RFC 6902 JSON Patch (an array of operations,
// needed to reach inside arrays: [{"op":"replace","path":"/rules/0/rollout/weights/1/weight","value":50}]).
// Both work on a copy; errors name the operation and path.
import { canonicalJson } from './http-util.js';
import { HttpProblem } from './problem.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Operations per JSON Patch document. */
export const MAX_PATCH_OPS = 100;

// Member names come from the caller ("__proto__", "constructor", "toString"
// are valid flag, variant and metadata names): members are read only as own
// properties and written with defineProperty, so a name never reaches
// Object.prototype or replaces an object's prototype. Recursion depth is
// bounded by the body's JSON shape limits (body.ts), checked before this runs.
function own(o: Record<string, Json>, k: string): Json | undefined {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

function setOwn(o: Record<string, Json>, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

function copyObject(o: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const k of Object.keys(o)) setOwn(out, k, o[k]);
  return out;
}

export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, Json> = target !== null && typeof target === 'object' && !Array.isArray(target) ? copyObject(target) : {};
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) delete base[k];
    else setOwn(base, k, mergePatch(own(base, k) ?? null, v));
  }
  return base;
}

interface PatchOp {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function pointer(path: string, where: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw bad(`${where}: "${path}" is not a JSON Pointer (must start with "/")`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function bad(detail: string): HttpProblem {
  return new HttpProblem('validation', detail, { issues: [{ path: 'patch', message: detail }] });
}

function isContainer(v: unknown): v is Record<string, Json> | Json[] {
  return v !== null && typeof v === 'object';
}

function get(doc: Json, tokens: string[], where: string): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(t) || Number(t) >= cur.length) throw bad(`${where}: no array element "${t}"`);
      cur = cur[Number(t)];
    } else if (isContainer(cur) && Object.prototype.hasOwnProperty.call(cur, t)) {
      cur = (cur as Record<string, Json>)[t];
    } else throw bad(`${where}: no member "${t}"`);
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], where: string): { parent: Record<string, Json> | Json[]; last: string } {
  if (tokens.length === 0) throw bad(`${where}: the whole document cannot be the target`);
  const parent = get(doc, tokens.slice(0, -1), where);
  if (!isContainer(parent)) throw bad(`${where}: the parent is not an object or array`);
  return { parent, last: tokens[tokens.length - 1] };
}

function add(doc: Json, tokens: string[], value: Json, where: string): void {
  const { parent, last } = parentOf(doc, tokens, where);
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(value);
    else if (/^(0|[1-9]\d*)$/.test(last) && Number(last) <= parent.length) parent.splice(Number(last), 0, value);
    else throw bad(`${where}: bad array index "${last}"`);
  } else setOwn(parent, last, value);
}

function remove(doc: Json, tokens: string[], where: string): Json {
  const { parent, last } = parentOf(doc, tokens, where);
  const old = get(doc, tokens, where);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return old;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw bad('a JSON Patch must be an array of operations');
  if (ops.length > MAX_PATCH_OPS) throw bad(`at most ${MAX_PATCH_OPS} operations per patch`);
  let doc = structuredClone(target);
  ops.forEach((raw, i) => {
    const where = `patch[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`${where}: must be an object`);
    const op = raw as PatchOp;
    if (typeof op.path !== 'string') throw bad(`${where}.path: must be a string`);
    const tokens = pointer(op.path, `${where}.path`);
    const needsValue = op.op === 'add' || op.op === 'replace' || op.op === 'test';
    if (needsValue && !('value' in op)) throw bad(`${where}.value: required for ${op.op}`);
    switch (op.op) {
      case 'add':
        if (tokens.length === 0) doc = structuredClone(op.value as Json);
        else add(doc, tokens, structuredClone(op.value as Json), where);
        break;
      case 'remove':
        remove(doc, tokens, where);
        break;
      case 'replace':
        if (tokens.length === 0) doc = structuredClone(op.value as Json);
        else {
          remove(doc, tokens, where);
          add(doc, tokens, structuredClone(op.value as Json), where);
        }
        break;
      case 'move':
      case 'copy': {
        if (typeof op.from !== 'string') throw bad(`${where}.from: must be a string`);
        const from = pointer(op.from, `${where}.from`);
        if (op.op === 'move' && op.path.startsWith(op.from + '/')) throw bad(`${where}: cannot move a value into itself`);
        const value = op.op === 'move' ? remove(doc, from, where) : structuredClone(get(doc, from, where));
        add(doc, tokens, value, where);
        break;
      }
      case 'test': {
        const actual = get(doc, tokens, where);
        if (canonicalJson(actual) !== canonicalJson(op.value)) throw bad(`${where}: test failed at ${op.path}`);
        break;
      }
      default:
        throw bad(`${where}.op: must be add, remove, replace, move, copy or test`);
    }
  });
  return doc;
}
