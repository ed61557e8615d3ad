// Loads proto/flags.proto at run time: FLAGRAFT_PROTO_DIR, then dist/proto
// (copied by the build), then the repository's proto/ folder.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

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

let Flags: grpc.ServiceClientConstructor | undefined;
export function flagsClientCtor(): grpc.ServiceClientConstructor {
  if (Flags) return Flags;
  const def = protoLoader.loadSync(['flags.proto'], { keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true, includeDirs: [findProtoDir()] });
  const pkg = grpc.loadPackageDefinition(def) as any;
  Flags = pkg.flagraft.v1.Flags as grpc.ServiceClientConstructor;
  return Flags;
}
