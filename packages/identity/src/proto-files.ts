// Finds and loads the .proto files (proto/, the one source of truth for the
// wire format) at run time, for every gRPC side: the consensus node and the
// cluster client. Where to look is relative to the calling module (`from`,
// its import.meta.url), because each package copies proto/ into its own
// dist at build time so a deployed package is self-contained: first
// FLAGRAFT_PROTO_DIR, then <from>/proto, <from>/../proto (dist/proto), then
// the repository's proto/ folder (running from src or a test).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// longs as Number: indexes and ids are safe integers (see raft-core types.ts).
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true,
});

/** The folder holding flags.proto, searched from the module `from`; throws naming every place looked in. */
export function findProtoDir(from: string | URL): string {
  const candidates = [
    process.env.FLAGRAFT_PROTO_DIR,
    fileURLToPath(new URL('./proto/', from)),
    fileURLToPath(new URL('../proto/', from)),
    fileURLToPath(new URL('../../../proto/', from)),
  ].filter((d): d is string => !!d);
  for (const dir of candidates) if (existsSync(`${dir}/flags.proto`)) return dir;
  throw new Error(`flagraft proto files not found; looked in ${candidates.join(', ')} (set FLAGRAFT_PROTO_DIR)`);
}

/** The gRPC package tree of `files` (names inside the proto folder found from `from`). */
export function loadProtoFiles(files: readonly string[], from: string | URL): grpc.GrpcObject {
  const def = protoLoader.loadSync([...files], { ...PROTO_LOADER_OPTIONS, includeDirs: [findProtoDir(from)] });
  return grpc.loadPackageDefinition(def);
}

/** The service constructor at a dotted path of a loaded tree (e.g. flagraft.v1.Flags); throws if there is none. */
export function serviceIn(root: grpc.GrpcObject, path: string): grpc.ServiceClientConstructor {
  let cur: unknown = root;
  for (const part of path.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  if (!(cur as { service?: unknown } | undefined)?.service) throw new Error(`gRPC service ${path} not found in proto files`);
  return cur as grpc.ServiceClientConstructor;
}
