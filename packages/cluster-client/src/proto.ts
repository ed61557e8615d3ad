// The Flags service client, from proto/flags.proto loaded by @flagraft/identity
// (the loader the consensus node uses too). The build copies proto/ to
// dist/proto, so a deployed package is self-contained.
import type * as grpc from '@grpc/grpc-js';
import { findProtoDir as findFrom, loadProtoFiles, serviceIn } from '@flagraft/identity';

/** The folder holding the proto files, as seen from this package (FLAGRAFT_PROTO_DIR first). */
export function findProtoDir(): string {
  return findFrom(import.meta.url);
}

let Flags: grpc.ServiceClientConstructor | undefined;
export function flagsClientCtor(): grpc.ServiceClientConstructor {
  Flags ??= serviceIn(loadProtoFiles(['flags.proto'], import.meta.url), 'flagraft.v1.Flags');
  return Flags;
}
