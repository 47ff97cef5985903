/**
 * The Ajv instance of one document and direction: JSON Schema 2020-12 (OpenAPI 3.1's dialect; 3.0
 * schemas are converted first), every error collected (reported capped), patterns on the
 * linear-time engine (S10), formats from ajv-formats (its "fast" regular expressions, linear) plus
 * OpenAPI's own (OAS 3.1 §4.4 "Data Types").
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { linearRegExp } from '../patterns.ts';
import { FORBIDDEN_KEYWORD } from './schemas.ts';

// ajv-formats is CommonJS with a default export (module.exports.default as well as module.exports).
type FormatsPlugin = (ajv: Ajv2020, options: { mode: 'fast' | 'full' }) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as unknown as FormatsPlugin;

const INT32 = 2 ** 31;

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    // Documents carry `x-` extensions, `example`, `discriminator`, `xml`: unknown keywords are
    // annotations, as OpenAPI says; everything that is a keyword is compiled strictly.
    strictSchema: false,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    strictNumbers: true,
    allowUnionTypes: true,
    ownProperties: true, // never read a property through the prototype chain
    validateSchema: false,
    addUsedSchema: false,
    inlineRefs: true,
    messages: false,
    logger: false,
    unicodeRegExp: true,
    code: { regExp: linearRegExp as never, optimize: true },
  });
  addFormats(ajv, { mode: 'fast' });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  for (const f of ['password', 'binary', 'markdown', 'html', 'text', 'url', 'iri', 'iri-reference']) ajv.addFormat(f, true);
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addKeyword({ keyword: FORBIDDEN_KEYWORD, schemaType: 'string', validate: () => false, errors: true });
  return ajv;
}
