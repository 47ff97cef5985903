/**
 * validation: requests checked against the upstream's OpenAPI 3.0/3.1 document (operation, path,
 * query, header and cookie parameters, content type, body), mass assignment refused or stripped,
 * strings normalised (NFC) and checked for control characters and injection (SQL, NoSQL, XSS,
 * path traversal, command, SSRF); responses held to the documented contract (`responseContract`).
 * Every document is compiled once per config generation; per request the stage only looks up and
 * runs compiled validators. docs/validation.md describes the behaviour, docs/config.md the keys.
 */
import { GatewayError } from '../../errors/problem.ts';
import { deny, next, type Stage, type StageModule } from '../../core/stage.ts';
import type { RequestContext } from '../../core/context.ts';
import { publishSecurityEvent, type SecurityEvent } from '../../observe/events.ts';
import { checkValidationConfig, validationDefaults, validationSchema, type ValidationConfig } from './config.ts';
import { documentFor } from './documents.ts';
import type { InjectionCheck } from './detect/index.ts';
import type { CompiledDocument, CompiledOperation } from './openapi/compile.ts';
import { stripPrefix } from '../proxy/target-path.ts';
import { checkResponse } from './response.ts';
import { validateRequest, type RequestValidator } from './request.ts';
import type { Violation } from './violations.ts';

export type { ValidationConfig } from './config.ts';

interface Note {
  readonly operation: CompiledOperation;
  removed?: number;
  shadow?: string[];
}

export const validationStage: StageModule<ValidationConfig> = {
  name: 'validation',
  schema: validationSchema,
  defaults: validationDefaults,
  check: checkValidationConfig,
  async compile(config, env): Promise<Stage> {
    const jsonLimits = config.limits;
    const route = env.route;
    const upstream = env.upstream;
    const log = env.logger.child({ stage: 'validation', route: route?.id });
    const openapi = upstream?.openapi;
    if (!route || !openapi) return { name: 'validation', jsonLimits } as Stage;
    if (!config.enabled) {
      log.warn('validation.enabled: false — requests on this route are not checked against the OpenAPI document');
      return { name: 'validation', jsonLimits } as Stage;
    }
    const doc = await documentFor(env.root, env.baseDir ?? process.cwd(), openapi.document);
    warnRelaxations(config, log, doc, route.path, route.stripPrefix, openapi.basePath);
    const checks: ReadonlySet<InjectionCheck> = new Set(config.injection.mode === 'off' ? [] : config.injection.checks);
    const validator: RequestValidator = { doc, basePath: openapi.basePath, config, checks };
    const notes = new WeakMap<RequestContext, Note>();
    const routeId = route.id;
    const event = (ctx: RequestContext, action: string, code: string, status: number, reason: string, extra: Partial<SecurityEvent> = {}) =>
      publishSecurityEvent({
        'event.kind': 'event',
        'event.category': ['web', 'intrusion_detection'],
        'event.action': action,
        'event.outcome': 'failure',
        'event.reason': reason,
        'source.ip': ctx.clientIp,
        'http.request.method': ctx.method,
        'url.path': ctx.path,
        'http.response.status_code': status,
        'trace.id': ctx.traceId,
        'rampart.code': code,
        'rampart.route': routeId,
        'rampart.mode': config.mode,
        ...(ctx.principal.kind !== 'anonymous' ? { 'user.id': `${ctx.principal.kind}:${ctx.principal.subject}` } : {}),
        ...extra,
      });

    return {
      name: 'validation',
      mode: config.mode,
      jsonLimits,
      async onRequest(ctx) {
        const outcome = await validateRequest(validator, ctx);
        if (outcome.kind === 'deny') {
          if (outcome.operation) notes.set(ctx, { operation: outcome.operation });
          const errors = outcome.error.extensions.errors as Violation[] | undefined;
          event(ctx, outcome.action, outcome.error.code, outcome.error.status, outcome.error.reason ?? outcome.error.code, errors?.[0] ? { 'rule.id': errors[0].rule } : {});
          return deny(outcome.error);
        }
        if (!outcome.operation) return next();
        const note: Note = { operation: outcome.operation };
        notes.set(ctx, note);
        if (outcome.shadowFindings) {
          const rules = [...new Set(outcome.shadowFindings.map((f) => f.rule))];
          note.shadow = rules;
          log.info({ requestId: ctx.requestId, operation: outcome.operation.id, findings: outcome.shadowFindings }, 'injection.mode shadow: would refuse unsafe input');
          event(ctx, 'validation.unsafe_input', 'RAMPART_VALIDATION_UNSAFE_INPUT', 400, `shadow: ${rules.join(',')}`, { 'rule.id': rules[0] as string, 'rampart.mode': 'shadow', 'event.outcome': 'unknown' });
        }
        return next(outcome.json ? { json: outcome.json } : undefined);
      },
      async onResponse(ctx, response) {
        const note = notes.get(ctx);
        if (!note) return next();
        const contract = config.responseContract;
        const verdict = await checkResponse(ctx, note.operation, response, contract, config.maxResponseBytes);
        if (verdict.removed.length) {
          note.removed = verdict.removed.length;
          log.info({ requestId: ctx.requestId, operation: note.operation.id, removed: verdict.removed }, 'response filtered: undeclared properties removed');
          event(ctx, 'validation.response_filtered', 'RAMPART_VALIDATION_RESPONSE_INVALID', response.status, `removed ${verdict.removed.join(' ')}`.slice(0, 1000), { 'event.outcome': 'success', 'event.category': ['web'] });
        }
        if (verdict.reported.length) {
          log.warn({ requestId: ctx.requestId, operation: note.operation.id, violations: verdict.reported }, 'response does not match its schema after filtering');
        }
        if (!verdict.blocking.length) return next();
        const reason = `response of ${note.operation.id} (status ${response.status}): ${verdict.blocking.map((v) => v.parameter ? `${v.parameter} ${v.rule}` : `${v.pointer ?? ''} ${v.rule}`.trim()).join(', ')}`.slice(0, 1000);
        if (contract === 'shadow') {
          log.warn({ requestId: ctx.requestId, violations: verdict.blocking }, 'responseContract shadow: would refuse the response');
          event(ctx, 'validation.response_invalid', 'RAMPART_VALIDATION_RESPONSE_INVALID', response.status, `shadow: ${reason}`, { 'rampart.mode': 'shadow', 'event.outcome': 'unknown' });
          return next();
        }
        log.warn({ requestId: ctx.requestId, violations: verdict.blocking }, 'upstream response refused: it does not match its OpenAPI document');
        event(ctx, 'validation.response_invalid', 'RAMPART_VALIDATION_RESPONSE_INVALID', 502, reason);
        return deny(new GatewayError('RAMPART_VALIDATION_RESPONSE_INVALID', { reason }));
      },
      onLog(ctx, entry) {
        const note = notes.get(ctx);
        if (!note) return;
        entry.operation = note.operation.id;
        if (note.removed) entry.responseFiltered = note.removed;
        if (note.shadow) entry.shadowFindings = note.shadow;
      },
    } as Stage;
  },
};

/** Secure defaults are the defaults; each relaxation is said once at start-up (STYLE habit 9). */
function warnRelaxations(config: ValidationConfig, log: { warn(o: object, m: string): void; warn(m: string): void }, doc: CompiledDocument, path: string, prefix: string | undefined, basePath: string): void {
  if (config.mode === 'shadow') log.warn('validation.mode: shadow — invalid requests are logged, not refused');
  if (config.unknownOperations === 'allow') log.warn('validation.unknownOperations: allow — requests the document does not describe pass unchecked');
  if (config.unknownQueryParameters === 'allow') log.warn('validation.unknownQueryParameters: allow');
  if (config.controlCharacters === 'allow') log.warn('validation.controlCharacters: allow');
  if (config.injection.mode !== 'enforce') log.warn(`validation.injection.mode: ${config.injection.mode} — injection-shaped input is not refused`);
  if (config.responseContract === 'shadow') log.warn('validation.responseContract: shadow — undeclared response data is logged, not removed');
  // The document describes the service's own paths: what the service sees (the gateway path minus
  // stripPrefix) should be the document path (the gateway path minus basePath).
  const probe = path.replace(/\{[^}]+\}/g, 'x').replace(/\*$/, '');
  const seen = stripPrefix(probe, prefix);
  const documented = basePath === '/' ? probe : probe.startsWith(basePath.replace(/\/$/, '') + '/') ? probe.slice(basePath.replace(/\/$/, '').length) : undefined;
  if (documented !== seen) log.warn({ stripPrefix: prefix, basePath }, 'the service sees other paths than the OpenAPI document describes: align the route\'s stripPrefix with the document\'s basePath');
  if (documented !== undefined && !doc.paths.match(documented) && !path.endsWith('*')) log.warn({ file: doc.file }, `route path ${path} matches no path of the OpenAPI document: every request will be refused unless unknownOperations is allow`);
}
