import { describe, expect, it } from 'vitest';
import { MalformedMessageError, parseSqsBody } from './event.js';

const event = { v: 1, revision: 7, kind: 'flag', key: 'k', op: 'put', flag: {}, actor: 'a', time: '2026-11-25T20:00:00.000Z' };

describe('parseSqsBody', () => {
  it('unwraps an SNS envelope', () => {
    const body = JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) });
    expect(parseSqsBody(body)).toMatchObject({ revision: 7, key: 'k' });
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

  it('rejects bodies over the size limit', () => {
    expect(() => parseSqsBody('x'.repeat(1024 * 1024 + 1))).toThrow(/larger than/);
  });
});
