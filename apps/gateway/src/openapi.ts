// The OpenAPI 3.1 document served at /api/v1/openapi.json, generated from
// @flagraft/api's route table and schemas (the one contract the clients use
// too). test/openapi.test.ts and the contract test check it against the
// routes this gateway registers and the answers it really gives.
import { buildOpenApiDocument } from '@flagraft/api';

export const openapiDocument = buildOpenApiDocument();
