// Scripted gRPC servers on loopback that implement proto/flags.proto (plain
// text): what the client tests route against, with node error bodies as the
// real nodes send them (trailing metadata flagraft-error-bin).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoDir } from '../src/proto.js';

const def = protoLoader.loadSync(['flags.proto'], { keepCase: false, longs: Number, enums: Number, defaults: true, includeDirs: [findProtoDir()] });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const Flags = (grpc.loadPackageDefinition(def) as any).flagraft.v1.Flags;

export function errorWith(code: grpc.status, body: Record<string, unknown>): Partial<grpc.StatusObject> {
  const md = new grpc.Metadata();
  md.set('flagraft-error-bin', Buffer.from(JSON.stringify(body)));
  return { code, details: String(body.message), metadata: md };
}

export async function serve(impl: grpc.UntypedServiceImplementation): Promise<{ address: string; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(Flags.service, impl);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { address: `127.0.0.1:${port}`, server };
}
