// Public API of @flagraft/api: the gateway's HTTP API as one contract (route
// table, schemas, problem types), the OpenAPI document generated from it,
// and the typed client every consumer (CLI, dashboard, tests, SDKs) uses.
export { ROUTES, PATH_PARAMETERS, IDEMPOTENCY_KEY_PARAMETER, operationOf } from './routes.js';
export { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS } from './idempotency.js';
export type { RouteSpec, HttpMethod, OperationId } from './routes.js';
export { SCHEMAS, schemaRef } from './schemas.js';
export type { SchemaName } from './schemas.js';
export { buildOpenApiDocument } from './openapi.js';
export type { OpenApiDocument } from './openapi.js';
export { ApiProblem, PROBLEM_KINDS, PROBLEM_TYPE_PREFIX, PROBLEM_CONTENT_TYPE, problemKind } from './problem.js';
export type { Problem, ProblemIssue, ProblemKind, ApiProblemContext } from './problem.js';
export {
  FlagraftClient, createClient, expectedRevisionCondition, DEFAULT_TIMEOUT_MS, MAX_RETRY_DELAY_MS, MAX_RETRIES, PROXY_502_ATTEMPTS, isProxy502,
} from './client.js';
export type { ClientOptions, CallOptions, ApiResponse, RawResponse, WriteCondition, ListQuery, HistoryQuery, QueryValue, EnvironmentQuery } from './client.js';
export { fetchTransport, DEFAULT_MAX_RESPONSE_BYTES } from './transport.js';
export type { Transport, TransportRequest, TransportResponse } from './transport.js';
export type * from './types.js';
