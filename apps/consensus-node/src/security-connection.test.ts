// connectionOf: the per-connection identity cache of security.ts relies on
// grpc-js handing the first server interceptor its base call, which holds the
// HTTP/2 stream and so the session (one connection). If a grpc-js upgrade
// changes that, the cache silently stops working: this test says so.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionOf } from './security.js';

const echo: grpc.ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
  },
};

let server: grpc.Server | undefined;
const clients: grpc.Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  server?.forceShutdown();
  server = undefined;
});

describe('connectionOf', () => {
  it('gives one object for the calls of one connection and another for another connection', async () => {
    const seen: (object | undefined)[] = [];
    server = new grpc.Server({
      interceptors: [(_method, call) => {
        seen.push(connectionOf(call));
        return new grpc.ServerInterceptingCall(call);
      }],
    });
    server.addService(echo, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
    const port = await new Promise<number>((resolve, reject) => server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const Client = grpc.makeGenericClientConstructor(echo, 'Echo');
    const call = (c: grpc.Client) => new Promise<void>((resolve, reject) => (c as any).Echo(Buffer.from('x'), (e: Error | null) => (e ? reject(e) : resolve())));
    const one = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    // A channel option other clients do not share: grpc-js would otherwise reuse one subchannel (one connection).
    const two = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.test-connection': 2 });
    clients.push(one, two);
    await call(one);
    await call(one);
    await call(two);
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBeTypeOf('object');
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).toBeTypeOf('object');
    expect(seen[2]).not.toBe(seen[0]);
  });

  it('is undefined for anything without a session', () => {
    expect(connectionOf(undefined)).toBeUndefined();
    expect(connectionOf({})).toBeUndefined();
    expect(connectionOf({ stream: {} })).toBeUndefined();
  });
});
