// The OpenAPI document against the routes the gateway really registers: every
// served route has a documented operation with an operationId, ids are unique
// (a client generator names its methods after them), and the OFREP endpoints,
// served in front of Express by ofrep.ts, are documented too.
import { describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from './app.js';
import { openapiDocument } from './openapi.js';

type Operation = { operationId?: string };
const paths = openapiDocument.paths as unknown as Record<string, Record<string, Operation | unknown>>;
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** Every (method, path) pair of the document, path in OpenAPI form (/flags/{key}). */
function documented(): { method: string; path: string; op: Operation }[] {
  const out: { method: string; path: string; op: Operation }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) if (item[method]) out.push({ method, path, op: item[method] as Operation });
  }
  return out;
}

/**
 * The routes createApp registers, read from Express 5's router. Registration
 * touches only config (handlers read the rest when called), so a config stub
 * is enough. The catch-all 405 layers (Routes.finish, app.all) accept every
 * method, TRACE included, which no real route does: they are skipped.
 */
function served(): { method: string; path: string }[] {
  const app = createApp({ config: { retryAfterSeconds: 1 } } as unknown as AppDeps);
  const stack = (app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router.stack;
  const out: { method: string; path: string }[] = [];
  for (const layer of stack) {
    if (!layer.route || layer.route.methods.trace) continue;
    for (const method of Object.keys(layer.route.methods)) {
      out.push({ method, path: layer.route.path.replace(/:([A-Za-z]+)/g, '{$1}') });
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  it('documents every route the gateway serves, each with an operationId', () => {
    const routes = served();
    expect(routes.length).toBeGreaterThan(30);
    const missing = routes.filter((r) => !(paths[r.path]?.[r.method] as Operation | undefined)?.operationId).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it('documents no operation the gateway does not serve (OFREP aside)', () => {
    const routes = new Set(served().map((r) => `${r.method} ${r.path}`));
    const extra = documented().filter((d) => !d.path.startsWith('/ofrep/') && !routes.has(`${d.method} ${d.path}`)).map((d) => `${d.method} ${d.path}`);
    expect(extra).toEqual([]);
  });

  it('gives every operation a unique camelCase operationId', () => {
    const ops = documented();
    const ids = ops.map((d) => d.op.operationId);
    const bad = ops.filter((d) => typeof d.op.operationId !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(d.op.operationId)).map((d) => `${d.method} ${d.path}`);
    expect(bad).toEqual([]);
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(dupes).toEqual([]);
  });

  it('documents the OFREP endpoints with their request and response schemas', () => {
    const single = paths['/ofrep/v1/evaluate/flags/{key}']?.post as { operationId: string; requestBody: unknown; responses: Record<string, unknown> };
    const bulk = paths['/ofrep/v1/evaluate/flags']?.post as { operationId: string; requestBody: unknown; responses: Record<string, unknown> };
    const events = paths['/ofrep/v1/events']?.get as { operationId: string; responses: Record<string, unknown> };
    expect(single.operationId).toBe('evaluateFlag');
    expect(bulk.operationId).toBe('evaluateAllFlags');
    expect(events.operationId).toBe('streamOfrepEvents');
    expect(JSON.stringify(single.requestBody)).toContain('#/components/schemas/OfrepRequest');
    expect(JSON.stringify(single.responses['200'])).toContain('#/components/schemas/OfrepSuccess');
    expect(JSON.stringify(single.responses['404'])).toContain('#/components/schemas/OfrepError');
    expect(JSON.stringify(bulk.responses['200'])).toContain('#/components/schemas/OfrepBulk');
    expect(Object.keys((events.responses['200'] as { content: Record<string, unknown> }).content)).toEqual(['text/event-stream']);
    const schemas = openapiDocument.components.schemas as Record<string, unknown>;
    for (const name of ['OfrepRequest', 'OfrepSuccess', 'OfrepError', 'OfrepBulk']) expect(schemas[name]).toBeDefined();
  });
});
