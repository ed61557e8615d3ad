export { createGateway } from './gateway.js';
export type { Gateway } from './gateway.js';
export { loadConfigFromEnv, resolveConfig, ConfigError, DEFAULTS } from './config.js';
export type { GatewayConfig } from './config.js';
export { openapiDocument } from './openapi.js';
export type { ClusterPort, ChangeEvent } from './types.js';
