// Public API of @flagraft/identity: identities and roles, the cluster PKI
// (issuing, folder layout, the `certs` command), TLS files that reload, and
// gRPC credentials built from them, and the proto files every gRPC side loads.
export {
  IDENTITY_SCHEME, SERVICE_ROLES, NAME_PATTERN, MAX_NODE_ID, MAX_CACHED_IDENTITIES, IdentityError,
  isServiceRole, isValidName, mayCall, mayVouch, ownActor, identityName, sameIdentity, identityUri, checkIdentity,
  parseIdentityUri, identityFromSubjectAltName, identityOfCertificate, identityOfPeerCertificate,
} from './identity.js';
export type { Identity, NodeIdentity, ServiceIdentity, ServiceRole, Permission } from './identity.js';
export { createClusterCa, issueCertificate, generateClusterId, hostsOf, CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS, MAX_HOSTS_PER_CERT } from './pki.js';
export type { CaMaterial, IssuedCertificate, IssueOptions } from './pki.js';
export { initPki, issueInto, listPki, rotateLeaves, rotateCa, dropOldCas, hasPki, readClusterId, pkiFiles, tlsFilesFor, DEFAULT_NODE_HOSTS } from './pki-dir.js';
export type { InitOptions, PkiEntry } from './pki-dir.js';
export {
  CertificateStore, TlsConfigError, loadCertificates, splitPemCertificates, transportSecurityFromEnv,
  MAX_TLS_FILE_BYTES, MAX_CA_CERTS, DEFAULT_TLS_RELOAD_INTERVAL_MS, EXPIRY_WARNING_DAYS,
} from './tls-files.js';
export type { TlsFiles, LoadedCertificates, WatchOptions, TransportSecurity } from './tls-files.js';
export { serverCredentials, channelCredentials, serverIdentityProblem, identityOfCall, SECURE_CHANNEL_OPTIONS } from './credentials.js';
export type { ServerExpectation, CallWithAuthContext } from './credentials.js';
export { runCertsCommand, CERTS_USAGE, MAX_INIT_NODES } from './certs-cli.js';
export type { CertsIo } from './certs-cli.js';
export { findProtoDir, loadProtoFiles, serviceIn, PROTO_LOADER_OPTIONS } from './proto-files.js';
