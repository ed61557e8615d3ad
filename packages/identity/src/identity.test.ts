import { describe, expect, it } from 'vitest';
import {
  IdentityError, identityFromSubjectAltName, identityUri, mayCall, mayVouch, ownActor, parseIdentityUri, type Identity,
} from './identity.js';

describe('identity URIs', () => {
  it('round-trip nodes and services', () => {
    const ids: Identity[] = [
      { kind: 'node', clusterId: 'fr-abc', nodeId: 7 },
      { kind: 'service', clusterId: 'c1', role: 'gateway', name: 'gw-1' },
      { kind: 'service', clusterId: 'c1', role: 'reader', name: 'metrics' },
    ];
    for (const id of ids) expect(parseIdentityUri(identityUri(id))).toEqual(id);
    expect(identityUri(ids[0])).toBe('flagraft://fr-abc/node/7');
    expect(identityUri(ids[1])).toBe('flagraft://c1/service/gateway/gw-1');
  });

  it.each([
    ['flagraft://c1/node/0', /positive integer/],
    ['flagraft://c1/node/01', /positive integer/],
    ['flagraft://c1/node/-1', /positive integer/],
    ['flagraft://c1/node/1/extra', /is not flagraft/],
    ['flagraft://C1/node/1', /cluster id/],
    ['flagraft://c1/service/root/x', /service role/],
    ['flagraft://c1/service/admin/Bad_Name', /service name/],
    ['https://c1/node/1', /is not flagraft/],
    ['flagraft://c1/node/99999999999', /node id/],
  ])('refuses %s', (uri, why) => {
    expect(() => parseIdentityUri(uri)).toThrow(why);
  });

  it('reads exactly one flagraft URI from a subjectAltName', () => {
    expect(identityFromSubjectAltName('DNS:localhost, URI:flagraft://c1/node/2, IP Address:127.0.0.1')).toEqual({ kind: 'node', clusterId: 'c1', nodeId: 2 });
    expect(() => identityFromSubjectAltName(undefined)).toThrow(IdentityError);
    expect(() => identityFromSubjectAltName('DNS:localhost, URI:https://example.com/')).toThrow(/no flagraft identity/);
    expect(() => identityFromSubjectAltName('URI:flagraft://c1/node/2, URI:flagraft://c1/node/3')).toThrow(/more than one/);
    // Node quotes values with special characters; such a value is never a valid identity.
    expect(() => identityFromSubjectAltName('URI:"flagraft://c1/node/2,x"')).toThrow(IdentityError);
  });
});

describe('roles', () => {
  const node: Identity = { kind: 'node', clusterId: 'c', nodeId: 1 };
  const svc = (role: 'gateway' | 'admin' | 'reader'): Identity => ({ kind: 'service', clusterId: 'c', role, name: 'x' });
  it('say who may read, write, administer and vouch', () => {
    expect([mayCall(svc('gateway'), 'write'), mayCall(svc('admin'), 'admin'), mayCall(svc('reader'), 'read')]).toEqual([true, true, true]);
    expect([mayCall(svc('reader'), 'write'), mayCall(svc('reader'), 'admin'), mayCall(node, 'read')]).toEqual([false, false, false]);
    expect([mayVouch(svc('gateway')), mayVouch(svc('admin')), mayVouch(node)]).toEqual([true, false, false]);
    expect(ownActor(svc('admin'))).toBe('admin:x');
  });
});
