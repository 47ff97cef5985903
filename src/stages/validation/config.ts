/**
 * The `validation` stage's settings (docs/config.md "validation"). Schema strict, no defaults in
 * it: defaults live in `validationDefaults`, merged under `defaults.validation`, the upstream's
 * and the route's own.
 */
import { DEFAULT_JSON_LIMITS, MAX_DEPTH, type JsonLimits } from '../../core/body/json.ts';
import type { JsonSchema, StageMode } from '../../core/stage.ts';
import { INJECTION_CHECKS, type InjectionCheck } from './detect/index.ts';
import { parseMediaRange } from '../../core/http/media-type.ts';

export type ResponseContract = 'shadow' | 'enforce' | 'filter';

export interface ValidationConfig {
  readonly enabled: boolean;
  readonly mode: StageMode;
  readonly unknownOperations: 'deny' | 'allow';
  readonly unknownProperties: 'deny' | 'strip';
  readonly unknownQueryParameters: 'deny' | 'allow';
  readonly contentTypes: readonly string[];
  readonly limits: JsonLimits;
  readonly controlCharacters: 'deny' | 'allow';
  readonly injection: { readonly mode: 'enforce' | 'shadow' | 'off'; readonly checks: readonly InjectionCheck[] };
  readonly responseContract: ResponseContract;
  readonly maxResponseBytes: number;
}

export const validationDefaults: ValidationConfig = {
  enabled: true,
  mode: 'enforce',
  unknownOperations: 'deny',
  unknownProperties: 'deny',
  unknownQueryParameters: 'deny',
  contentTypes: ['application/json', 'application/*+json'],
  limits: DEFAULT_JSON_LIMITS,
  controlCharacters: 'deny',
  injection: { mode: 'enforce', checks: [...INJECTION_CHECKS] },
  responseContract: 'filter',
  maxResponseBytes: 4 * 1024 * 1024,
};

const int = (min: number, max: number) => ({ type: 'integer', minimum: min, maximum: max });

export const validationSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    mode: { enum: ['enforce', 'shadow'] },
    unknownOperations: { enum: ['deny', 'allow'] },
    unknownProperties: { enum: ['deny', 'strip'] },
    unknownQueryParameters: { enum: ['deny', 'allow'] },
    contentTypes: { type: 'array', items: { type: 'string', minLength: 3, maxLength: 200 }, minItems: 1, maxItems: 100 },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxDepth: int(1, MAX_DEPTH),
        maxArrayLength: int(1, 10_000_000),
        maxStringLength: int(1, 100_000_000),
        maxProperties: int(1, 1_000_000),
      },
    },
    controlCharacters: { enum: ['deny', 'allow'] },
    injection: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['enforce', 'shadow', 'off'] },
        checks: { type: 'array', items: { enum: [...INJECTION_CHECKS] }, uniqueItems: true, maxItems: INJECTION_CHECKS.length },
      },
    },
    responseContract: { enum: ['shadow', 'enforce', 'filter'] },
    maxResponseBytes: int(1024, 1024 * 1024 * 1024),
  },
};

export function checkValidationConfig(config: ValidationConfig): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  config.contentTypes.forEach((t, i) => {
    if (!parseMediaRange(t) || /[;\s]/.test(t)) out.push({ path: `contentTypes.${i}`, message: `"${t}" is not a media type or range like application/json, text/* or application/*+json` });
  });
  return out;
}
