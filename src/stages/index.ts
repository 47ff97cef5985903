/**
 * Every stage module, in pipeline order (src/core/stage.ts REQUEST_PHASE states the order once).
 * A new practice adds its module here; its schema joins rampart.yaml's root schema.
 */
import type { StageModule } from '../core/stage.ts';
import { requestIdStage } from './request-id/index.ts';
import { hygieneStage } from './hygiene/index.ts';
import { ipFilterStage } from './ip-filter/index.ts';
import { corsStage } from './cors/index.ts';
import { authnStage } from './authn/index.ts';
import { authzStage } from './authz/index.ts';
import { throttleStage } from './throttle/index.ts';
import { quotaStage } from './quota/index.ts';
import { validationStage } from './validation/index.ts';
import { proxyStage } from './proxy/index.ts';
import { headersStage } from './headers/index.ts';

export const STAGES: readonly StageModule<any>[] = [requestIdStage, hygieneStage, ipFilterStage, throttleStage, corsStage, authnStage, authzStage, quotaStage, validationStage, proxyStage, headersStage];
