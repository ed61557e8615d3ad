// Optional TLS / mutual TLS for peer and client traffic, configured by file paths.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

export interface TlsFiles {
  /** PEM certificate chain of this node. */
  certFile: string;
  /** PEM private key of this node. */
  keyFile: string;
  /** PEM CA bundle used to verify the other side. */
  caFile: string;
  /** Require and verify client certificates on the server (mutual TLS). */
  requireClientCert: boolean;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read TLS ${what} file ${path}: ${(e as Error).message}`);
  }
}

export function serverCredentials(tls?: TlsFiles): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(read(tls.caFile, 'CA'),
    [{ private_key: read(tls.keyFile, 'key'), cert_chain: read(tls.certFile, 'certificate') }], tls.requireClientCert);
}

/** Credentials a node uses to reach its peers (presents its own cert for mTLS). */
export function channelCredentials(tls?: TlsFiles): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(read(tls.caFile, 'CA'), read(tls.keyFile, 'key'), read(tls.certFile, 'certificate'));
}
