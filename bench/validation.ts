/**
 * `node bench/validation.ts`: the gateway CPU spent validating one 1 KB JSON request body — the
 * core's strict parse, the sanitization walk (NFC, control characters, injection checks) and the
 * compiled Ajv schema with patterns and formats — measured with process.cpuUsage() over many
 * iterations, after warm-up, as the median of several rounds. Target (issue 6): ≤ 10 µs.
 *
 * It calls the validation stage's request check directly with a minimal request context, so the
 * figure is the stage's own work, not TLS or HTTP parsing. Not a test: nothing here asserts.
 */
import { parseArgs } from 'node:util';
import { parseJson } from '../src/core/body/json.ts';
import type { RequestContext } from '../src/core/context.ts';
import { DEFAULT_JSON_LIMITS } from '../src/core/body/json.ts';
import { validationDefaults } from '../src/stages/validation/config.ts';
import { INJECTION_CHECKS } from '../src/stages/validation/detect/index.ts';
import { compileDocument } from '../src/stages/validation/openapi/compile.ts';
import { parseOpenApi } from '../src/stages/validation/openapi/load.ts';
import { validateRequest, type RequestValidator } from '../src/stages/validation/request.ts';
import { newWalkResult, walk } from '../src/stages/validation/walk.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.iterations);
const ROUNDS = Number(values.rounds);

const DOCUMENT = `
openapi: 3.1.0
info: { title: bench, version: '1' }
paths:
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/NewOrder' }
      responses: { '201': { description: created } }
components:
  schemas:
    Address:
      type: object
      required: [street, city, country]
      properties:
        street: { type: string, maxLength: 100 }
        city: { type: string, maxLength: 60 }
        zip: { type: string, pattern: '^[0-9A-Z -]{3,10}$' }
        country: { type: string, pattern: '^[A-Z]{2}$' }
    NewOrder:
      type: object
      required: [customer, items]
      properties:
        customer:
          type: object
          required: [name, email]
          properties:
            name: { type: string, minLength: 1, maxLength: 100 }
            email: { type: string, format: email, maxLength: 254 }
            address: { $ref: '#/components/schemas/Address' }
        items:
          type: array
          maxItems: 50
          items:
            type: object
            required: [sku, quantity]
            properties:
              sku: { type: string, pattern: '^[A-Z]{2,8}-[0-9]{3}$' }
              quantity: { type: integer, minimum: 1, maximum: 99 }
              price: { type: number, minimum: 0 }
              note: { type: string, maxLength: 200 }
        coupon: { type: string, pattern: '^[A-Z0-9-]{4,20}$' }
        notes: { type: string, maxLength: 500 }
        callbackUrl: { type: string, format: uri, maxLength: 300 }
`;

const BODY = {
  customer: { name: "Zoë O'Brien", email: 'zoe.obrien@example.com', address: { street: '12 Rue de la Paix', city: 'Paris', zip: '75002', country: 'FR' } },
  items: Array.from({ length: 8 }, (_, i) => ({ sku: `BOOK-00${i}`, quantity: i + 1, price: 12.5 + i, note: 'gift wrap, please' })),
  coupon: 'SPRING-2024',
  notes: 'Leave at the door and ring twice; the dog is friendly. If nobody answers, the neighbour at number 14 takes parcels (she is home most afternoons, ring her bell). Thanks a lot!',
  callbackUrl: 'https://shop.example.com/hooks/orders',
};
const bytes = Buffer.from(JSON.stringify(BODY));

const doc = compileDocument(parseOpenApi(DOCUMENT, 'bench.yaml'));
const config = validationDefaults;
const validator: RequestValidator = { doc, basePath: '/', config, checks: new Set(INJECTION_CHECKS) };
const op = doc.paths.match('/orders')!.value.get('POST')!;
const media = op.body!.media[0]!;

function context(): RequestContext {
  let parsed: Promise<unknown> | undefined;
  return {
    method: 'POST',
    path: '/orders',
    query: '',
    headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
    body: () => Promise.resolve(bytes),
    json: () => (parsed ??= Promise.resolve(parseJson(bytes, DEFAULT_JSON_LIMITS))),
  } as unknown as RequestContext;
}

function cpuMicrosPerOp(label: string, fn: () => unknown): number {
  for (let i = 0; i < Math.min(N, 5000); i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / N);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)] as number;
  console.log(`${label.padEnd(44)} ${median.toFixed(2).padStart(7)} µs CPU/op  (rounds: ${rounds.map((x) => x.toFixed(2)).join(' ')})`);
  return median;
}

async function cpuMicrosPerOpAsync(label: string, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(N, 5000); i++) await fn();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) await fn();
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / N);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)] as number;
  console.log(`${label.padEnd(44)} ${median.toFixed(2).padStart(7)} µs CPU/op  (rounds: ${rounds.map((x) => x.toFixed(2)).join(' ')})`);
  return median;
}

const check = await validateRequest(validator, context());
if (check.kind !== 'pass') throw new Error(`the bench body does not validate: ${JSON.stringify(check)}`);
console.log(`body: ${bytes.length} bytes; ${N} iterations × ${ROUNDS} rounds; node ${process.version}`);
console.log('');
cpuMicrosPerOp('JSON.parse (reference, not used)', () => JSON.parse(bytes.toString()));
cpuMicrosPerOp('strict parse (src/core/body/json.ts)', () => parseJson(bytes, DEFAULT_JSON_LIMITS));
const value = parseJson(bytes, DEFAULT_JSON_LIMITS);
cpuMicrosPerOp('sanitization walk (NFC, control, injection)', () => walk(value, media.shape, { strip: false, dropForbidden: false, nfc: true, controlCharacters: true, checks: validator.checks, location: 'body' }, newWalkResult()));
cpuMicrosPerOp('schema (Ajv, patterns, formats)', () => media.validate!(value));
const total = await cpuMicrosPerOpAsync('validation stage, whole request (1 KB body)', () => validateRequest(validator, context()));
console.log('');
console.log(`target ≤ 10 µs: ${total <= 10 ? 'met' : 'NOT met'} (${total.toFixed(2)} µs)`);
