// The node's gRPC services, from the proto files @flagraft/identity finds and
// loads (the same loader the cluster client uses). The build copies proto/
// to dist/proto, so a deployed package is self-contained.
import type * as grpc from '@grpc/grpc-js';
import { loadProtoFiles, serviceIn } from '@flagraft/identity';

let cached: grpc.GrpcObject | undefined;
export function loadProtos(): grpc.GrpcObject {
  cached ??= loadProtoFiles(['raft.proto', 'flags.proto', 'health.proto'], import.meta.url);
  return cached;
}

export function serviceOf(path: string): grpc.ServiceClientConstructor {
  return serviceIn(loadProtos(), path);
}
