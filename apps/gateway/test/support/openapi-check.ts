// Checks real responses against the served OpenAPI 3.1 document with Ajv's
// JSON Schema 2020-12 validator (the dialect OpenAPI 3.1 uses).
import * as Ajv2020Module from 'ajv/dist/2020.js';
import type { Reply } from './harness.js';

// ajv is CommonJS: under NodeNext its class is the default export.
const Ajv2020 = Ajv2020Module.default as unknown as typeof Ajv2020Module.Ajv2020;

export interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  json: unknown;
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class OpenApiChecker {
  private readonly ajv: Ajv2020Module.Ajv2020;
  private readonly templates: { template: string; re: RegExp; literal: boolean }[];
  constructor(private readonly doc: any) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/ } });
    this.ajv.addSchema(doc, 'openapi.json');
    this.templates = Object.keys(doc.paths)
      .map((template) => ({
        template,
        literal: !template.includes('{'),
        re: new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+') + '$'),
      }))
      .sort((a, b) => Number(b.literal) - Number(a.literal));
  }

  /** Problems with one response, empty when it conforms. */
  check(r: Recorded): string[] {
    const path = r.path.split('?')[0];
    const t = this.templates.find((x) => x.re.test(path));
    const where = `${r.method} ${r.path} -> ${r.status}`;
    const op = t ? this.doc.paths[t.template][r.method.toLowerCase()] : undefined;
    if (!t || !op) {
      // Unknown paths and methods cannot be described per operation: they must
      // be 404 / 405 problem documents.
      if ((r.status === 404 || r.status === 405) && r.contentType.startsWith('application/problem+json')) {
        return this.validate('components/schemas/Problem', r.json, where);
      }
      return [`${where}: ${t ? `method not documented for ${t.template}` : 'path not in the document'}`];
    }
    const resp = op.responses[String(r.status)];
    if (!resp) return [`${where}: status not documented for ${r.method} ${t.template}`];
    if (!resp.content) return [];
    const mediaType = Object.keys(resp.content).find((m) => r.contentType.startsWith(m));
    if (!mediaType) return [`${where}: content-type ${r.contentType} not documented (${Object.keys(resp.content).join(', ')})`];
    const schema = resp.content[mediaType].schema;
    if (!schema || !mediaType.includes('json')) return [];
    const pointer = ['paths', t.template, r.method.toLowerCase(), 'responses', String(r.status), 'content', mediaType, 'schema'].map(escape).join('/');
    return this.validate(pointer, r.json, where);
  }

  private readonly compiled = new Map<string, ReturnType<Ajv2020Module.Ajv2020['compile']>>();
  private validate(pointer: string, value: unknown, where: string): string[] {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi.json#/${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (validate(value)) return [];
    return [`${where}: ${this.ajv.errorsText(validate.errors)}`];
  }
}

export function record(into: Recorded[], method: string, path: string, reply: Reply): Reply {
  into.push({ method, path, status: reply.status, contentType: reply.headers.get('content-type') ?? '', json: reply.json });
  return reply;
}
