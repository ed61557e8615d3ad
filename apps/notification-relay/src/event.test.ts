import { describe, expect, it } from 'vitest';
import { MalformedMessageError, parseSqsBody } from './event.js';

const event = { v: 1, revision: 7, kind: 'flag', key: 'k', op: 'put', flag: {}, actor: 'a', time: '2026-11-25T20:00:00.000Z' };

describe('parseSqsBody', () => {
  it('unwraps an SNS envelope', () => {
    const body = JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) });
    expect(parseSqsBody(body)).toMatchObject({ revision: 7, key: 'k' });
  });

  it('accepts every kind the outbox publishes, with env where it belongs', () => {
    for (const kind of ['environment', 'changeRequest', 'schedule']) expect(parseSqsBody(JSON.stringify({ ...event, kind, flag: undefined }))).toMatchObject({ kind });
    expect(parseSqsBody(JSON.stringify({ ...event, env: 'staging' }))).toMatchObject({ kind: 'flag', env: 'staging' });
  });

  it('accepts raw delivery', () => {
    expect(parseSqsBody(JSON.stringify(event))).toMatchObject({ revision: 7 });
  });

  it.each([
    ['', /empty/],
    ['{', /not JSON/],
    [JSON.stringify({ Type: 'Notification', Message: 5 }), /Message is not a string/],
    [JSON.stringify({ Type: 'Notification', Message: '{x' }), /not JSON/],
    [JSON.stringify([1]), /not a JSON object/],
    [JSON.stringify({ ...event, v: 2 }), /v must be 1/],
    [JSON.stringify({ ...event, revision: 0 }), /revision/],
    [JSON.stringify({ ...event, kind: 'x' }), /kind/],
    [JSON.stringify({ ...event, env: 'a/b' }), /env must be an environment name/],
    [JSON.stringify({ ...event, kind: 'segment', env: 'staging' }), /env must be an environment name \(flag, changeRequest and schedule events only\)/],
    [JSON.stringify({ ...event, key: '' }), /key/],
    [JSON.stringify({ ...event, op: 'upsert' }), /op/],
    [JSON.stringify({ ...event, prevRevision: 9, part: 0, parts: 1 }), /prevRevision/],
    [JSON.stringify({ ...event, prevRevision: 3, part: 1, parts: 1 }), /part/],
  ])('rejects %s with a message naming the problem', (body, re) => {
    expect(() => parseSqsBody(body)).toThrow(MalformedMessageError);
    expect(() => parseSqsBody(body)).toThrow(re);
  });

  it('accepts a reset marker (no key, no op) and rejects one without its chain or reason', () => {
    const m = { v: 1, kind: 'reset', reason: 'restore', revision: 40, prevRevision: 12, part: 0, parts: 1, actor: 'flagraft', time: '2026-11-25T20:00:00.000Z' };
    expect(parseSqsBody(JSON.stringify({ Type: 'Notification', Message: JSON.stringify(m) }))).toEqual(m);
    expect(() => parseSqsBody(JSON.stringify({ ...m, prevRevision: undefined }))).toThrow(/prevRevision/);
    expect(() => parseSqsBody(JSON.stringify({ ...m, prevRevision: 40 }))).toThrow(/prevRevision/);
    expect(() => parseSqsBody(JSON.stringify({ ...m, parts: 2 }))).toThrow(/part/);
    expect(() => parseSqsBody(JSON.stringify({ ...m, reason: 'Restore <script>' }))).toThrow(/reason/);
    expect(() => parseSqsBody(JSON.stringify({ ...m, reason: undefined }))).toThrow(MalformedMessageError);
  });

  it('judges event and envelope JSON by flag-model\'s shape limits (the gateway\'s), naming the limit', () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const deepEvent = `{"v":1,"revision":7,"kind":"flag","key":"k","op":"put","actor":"a","time":"t","flag":${deep}}`;
    // Before: accepted, and the fan-out's JSON.stringify overflowed the stack.
    for (const body of [deepEvent, JSON.stringify({ Type: 'Notification', Message: deepEvent }), `{"Type":"Notification","x":${deep}}`]) {
      const err = (() => { try { parseSqsBody(body); } catch (e) { return e as MalformedMessageError; } })();
      expect(err).toBeInstanceOf(MalformedMessageError);
      expect(err!.limit).toBe('maxJsonDepth');
      expect(err!.message).toMatch(/nested more than 64 levels deep .*\(limit maxJsonDepth\)$/);
    }
    // Before: 1e400 reached clients as null.
    const huge = `{"v":1,"revision":7,"kind":"flag","key":"k","op":"put","actor":"a","time":"t","flag":{"flag":{"metadata":{"n":1e400}}}}`;
    expect(() => parseSqsBody(huge)).toThrow(/^SQS message: \/flag\/flag\/metadata\/n is a number too large to represent \(limit jsonNumberRange\)$/);
    expect(() => parseSqsBody(JSON.stringify({ Type: 'Notification', Message: huge }))).toThrow('change event: /flag/flag/metadata/n is a number too large to represent (limit jsonNumberRange)');
    // A whole event as the envelope's Message string may be as long as a body; inside the event, strings keep their limit.
    const longString = JSON.stringify({ ...event, flag: { flag: { description: 'd'.repeat(70_000) } } });
    expect(() => parseSqsBody(JSON.stringify({ Type: 'Notification', Message: longString }))).toThrow(/\/flag\/flag\/description is a string of 70000 characters.*\(limit maxJsonStringChars\)/);
    const fine = JSON.stringify({ ...event, flag: { flag: { description: 'd'.repeat(4_000) } } });
    expect(parseSqsBody(JSON.stringify({ Type: 'Notification', Message: fine }))).toMatchObject({ revision: 7 });
  });

  it('rejects bodies over the size limit', () => {
    expect(() => parseSqsBody('x'.repeat(1024 * 1024 + 1))).toThrow(/larger than/);
  });
});
