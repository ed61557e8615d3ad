// Generates the OpenAPI 3.1 document of the gateway's HTTP API from the route
// table and the schema components. The gateway serves it at
// /api/v1/openapi.json; nothing in it is written by hand elsewhere.
import { IDEMPOTENCY_KEY_PARAMETER, PATH_PARAMETERS, ROUTES, type RouteSpec } from './routes.js';
import { SCHEMAS } from './schemas.js';

type PathItem = { parameters?: readonly object[] } & Partial<Record<RouteSpec['method'], object>>;

/** The document: one path item per path template, one operation per route, in the table's order. */
export function buildOpenApiDocument() {
  const paths: Record<string, PathItem> = {};
  for (const [operationId, spec] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const { method, path, idempotent, ...operation } = spec;
    if (idempotent) operation.parameters = [...(operation.parameters ?? []), IDEMPOTENCY_KEY_PARAMETER];
    const item = (paths[path] ??= PATH_PARAMETERS[path] ? { parameters: PATH_PARAMETERS[path] } : {});
    if (item[method]) throw new Error(`routes: two operations for ${method.toUpperCase()} ${path}`);
    item[method] = { operationId, ...operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'flagraft gateway',
      version: '1.0.0',
      description:
        'REST API for flags and segments (ETag = revision, If-Match for compare-and-set), the original endpoints, ' +
        'the live change stream and cluster operations. OFREP evaluation (/ofrep/v1) follows the OpenFeature protocol. ' +
        'Errors are RFC 9457 problem documents. Auth: Authorization: Bearer <token> or X-API-Key, checked before any body byte is read. ' +
        'Limits, each named in its refusal: body bytes after decompression (maxBodyBytes 1 MiB; maxBatchBodyBytes 8 MiB; ' +
        'maxEvaluationBodyBytes 64 KiB; maxEvaluationCountsBodyBytes 256 KiB; maxFlagdImportBodyBytes 8 MiB; maxRestoreBodyBytes 128 MiB; ' +
        'FLAGRAFT_MAX_*_BODY_BYTES) -> 413 payload-too-large; JSON shape (maxJsonDepth 64, maxJsonStringChars 65536, maxJsonKeyChars 1024, ' +
        'maxJsonArrayItems 10000, maxJsonObjectKeys 10000, maxJsonNodes 1000000, jsonNumberRange: finite numbers) -> 422 json-limit with ' +
        'limit and issues[].pointer (OFREP: 400 INVALID_CONTEXT); per-token rate limits per gateway (writes FLAGRAFT_RATE_LIMIT_WRITES_PER_SEC ' +
        '50/s burst 100, evaluations FLAGRAFT_RATE_LIMIT_EVALUATIONS_PER_SEC 1000/s burst 2000; 0 = off) -> 429 with Retry-After.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: SCHEMAS,
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;
