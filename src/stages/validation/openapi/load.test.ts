import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, formatProblem } from '../../../config/load.ts';
import { parseOpenApi } from './load.ts';
import { compileDocument } from './compile.ts';

function refused(text: string, ...expected: RegExp[]): void {
  assert.throws(
    () => compileDocument(parseOpenApi(text, 'api.yaml')),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      const lines = e.problems.map(formatProblem).join('\n');
      for (const re of expected) assert.match(lines, re);
      return true;
    },
  );
}

const doc = (body: string, version = '3.1.0') => `openapi: ${version}\ninfo: { title: t, version: '1' }\n${body}`;

test('parseOpenApi: a document that does not parse is refused with file, line and column', () => {
  refused('openapi: 3.1.0\npaths: {\n  /a: [', /^api\.yaml:\d+:\d+: /);
  refused('openapi: 3.1.0\nopenapi: 3.1.0\npaths: {}', /api\.yaml:2:\d+: .*[Dd]uplicate|unique/);
});

test('parseOpenApi: only OpenAPI 3.0 and 3.1', () => {
  refused(doc('paths: {}', '2.0'), /api\.yaml:1:\d+: #\/openapi: must be an OpenAPI version 3\.0\.x or 3\.1\.x/);
  refused('swagger: "2.0"\npaths: {}', /#\/openapi/);
});

test('parseOpenApi: an unresolved $ref is refused at its JSON pointer, with its line', () => {
  const text = doc(`paths:
  /users/{id}:
    get:
      responses:
        '200':
          description: x
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Missing' }
`);
  refused(text, /^api\.yaml:11:\d+: #\/paths\/~1users~1\{id\}\/get\/responses\/200\/content\/application~1json\/schema\/\$ref: unresolved reference "#\/components\/schemas\/Missing"$/m);
});

test('parseOpenApi: S10 — external references and YAML alias bombs are refused', () => {
  refused(doc(`paths:\n  /a:\n    get:\n      responses: { '200': { $ref: 'https://evil.example/r.yaml' } }\n`), /only local references/);
  refused(doc(`paths:\n  /a:\n    get:\n      responses: { '200': { $ref: 'other.yaml#/x' } }\n`), /only local references/);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
  refused(`openapi: 3.1.0\npaths: {}\nx-bomb:\n  ${bomb.replaceAll('\n', '\n  ')}\n`, /refused/);
});

test('compileDocument: S10 — patterns that need backtracking and uniqueItems without maxItems are refused with their pointer', () => {
  refused(
    doc(`paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                p: { type: string, pattern: '^(?=.*[0-9]).+$' }
                tags: { type: array, uniqueItems: true, items: { type: string } }
      responses: { '204': { description: ok } }
`),
    /#\/paths\/~1a\/post\/requestBody\/content\/application~1json\/schema\/properties\/p\/pattern: needs a backtracking engine/,
    /properties\/tags\/uniqueItems: uniqueItems needs maxItems/,
  );
});

test('compileDocument: OpenAPI 3.0 schemas are converted (nullable, boolean exclusiveMinimum, $ref siblings)', () => {
  const c = compileDocument(parseOpenApi(doc(`paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                n: { type: integer, nullable: true, minimum: 0, exclusiveMinimum: true }
                e: { type: string, enum: [a, b], nullable: true }
                r: { $ref: '#/components/schemas/S', description: ignored, maxLength: 1 }
      responses: { '204': { description: ok } }
components:
  schemas:
    S: { type: string, maxLength: 5 }
`, '3.0.3'), 'api.yaml'));
  const validate = c.paths.match('/a')!.value.get('POST')!.body!.media[0]!.validate!;
  assert.equal(validate({ n: null, e: null, r: 'abcde' }), true, JSON.stringify(validate.errors));
  assert.equal(validate({ n: 0 }), false, 'exclusiveMinimum: true with minimum 0');
  assert.equal(validate({ n: 1, e: 'c' }), false);
  assert.equal(validate({ n: 1, x: 1 }), false, 'closed against mass assignment');
});

test('compileDocument: a path parameter missing from the template and an unsupported style are config errors', () => {
  refused(doc(`paths:\n  /a:\n    get:\n      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]\n      responses: { '204': { description: ok } }\n`), /not in the path template/);
  refused(doc(`paths:\n  /a/{id}:\n    get:\n      parameters: [{ name: id, in: path, required: true, style: matrix, schema: { type: string } }]\n      responses: { '204': { description: ok } }\n`), /style "matrix" is not supported/);
});
