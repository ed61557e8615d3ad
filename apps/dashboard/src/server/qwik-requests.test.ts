import { describe, expect, it } from 'vitest';
import { actionDataProblem, clientSymbolHashes, isServerFunctionCall, serverCallProblem } from './qwik-requests';

/** What Qwik's deserialiser makes of a QRL: a function with getSymbol/getHash. */
function fakeQrl(hash: string): () => void {
  return Object.assign(() => {}, { getSymbol: () => `s_${hash}`, getHash: () => hash });
}

describe('Qwik City requests checked before Qwik City answers them with a 500', () => {
  it('recognises a server$ call exactly as Qwik City does (qfunc = X-QRL, application/qwik-json)', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(isServerFunctionCall(new URLSearchParams('qfunc=abc'), h({ 'x-qrl': 'abc', 'content-type': 'application/qwik-json' }))).toBe(true);
    expect(isServerFunctionCall(new URLSearchParams('qfunc=abc'), h({ 'x-qrl': 'abd', 'content-type': 'application/qwik-json' }))).toBe(false);
    expect(isServerFunctionCall(new URLSearchParams('qfunc=abc'), h({ 'x-qrl': 'abc', 'content-type': 'application/json' }))).toBe(false);
    expect(isServerFunctionCall(new URLSearchParams('qfunc='), h({ 'x-qrl': '', 'content-type': 'application/qwik-json' }))).toBe(false);
  });

  it('action data must be an object (form fields or JSON object)', () => {
    expect(actionDataProblem({ json: '{}' })).toBeUndefined();
    expect(actionDataProblem(Object.create(null))).toBeUndefined();
    for (const bad of [undefined, null, '', 'x', 1, true, [], [{}]]) expect(actionDataProblem(bad), JSON.stringify(bad)).toMatch(/form fields or a JSON object/);
  });

  it('a server$ call must be [its own QRL, ...args]', () => {
    expect(serverCallProblem([fakeQrl('h1'), 'arg'], 'h1')).toBeUndefined();
    expect(serverCallProblem([fakeQrl('h2')], 'h1')).toMatch(/does not match/);
    expect(serverCallProblem([], 'h1')).toMatch(/\[function/);
    expect(serverCallProblem({ 0: fakeQrl('h1') }, 'h1')).toMatch(/\[function/);
    expect(serverCallProblem(['h1'], 'h1')).toMatch(/function reference/);
    expect(serverCallProblem([() => {}], 'h1')).toMatch(/function reference/);
    expect(serverCallProblem([{ getSymbol: () => 'x', getHash: () => 'h1' }], 'h1')).toMatch(/function reference/);
  });

  it('a server$ call naming a client symbol (from the client manifest) is refused', () => {
    const client = clientSymbolHashes({ mapping: { s_comp3: 'q-a.js' }, symbols: { s_click1: { hash: 'click1' }, s_task2: { hash: 'task2' }, s_old: {} } });
    expect([...client].sort()).toEqual(['click1', 'comp3', 'old', 'task2']);
    expect(serverCallProblem([fakeQrl('click1')], 'click1', client)).toMatch(/names client code/);
    expect(serverCallProblem([fakeQrl('srv9')], 'srv9', client)).toBeUndefined();
    expect(clientSymbolHashes(undefined).size).toBe(0); // dev server: no manifest, nothing refused by this rule
  });
});
