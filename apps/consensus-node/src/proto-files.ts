// Finds the .proto files (the one source of truth for the wire format) at run
// time: FLAGRAFT_PROTO_DIR, then dist/proto (copied there by the build, so a
// deployed package is self-contained), then the repository's proto/ folder.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';

export function findProtoDir(): string {
  const candidates = [
    process.env.FLAGRAFT_PROTO_DIR,
    fileURLToPath(new URL('./proto/', import.meta.url)),
    fileURLToPath(new URL('../proto/', import.meta.url)),
    fileURLToPath(new URL('../../../proto/', import.meta.url)),
  ].filter((d): d is string => !!d);
  for (const dir of candidates) if (existsSync(`${dir}/flags.proto`)) return dir;
  throw new Error(`flagraft proto files not found; looked in ${candidates.join(', ')} (set FLAGRAFT_PROTO_DIR)`);
}

// longs as Number: indexes and ids are safe integers (see raft-core types.ts).
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true,
};

let cached: grpc.GrpcObject | undefined;
export function loadProtos(): grpc.GrpcObject {
  if (cached) return cached;
  const dir = findProtoDir();
  const def = protoLoader.loadSync(['raft.proto', 'flags.proto', 'health.proto'], { ...LOADER_OPTIONS, includeDirs: [dir] });
  cached = grpc.loadPackageDefinition(def);
  return cached;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function serviceOf(path: string): grpc.ServiceClientConstructor {
  let cur: any = loadProtos();
  for (const part of path.split('.')) cur = cur[part];
  if (!cur?.service) throw new Error(`gRPC service ${path} not found in proto files`);
  return cur as grpc.ServiceClientConstructor;
}
