// Telemetry semantics beyond field shapes, following istiod's validation:
// a workload selector and targetRefs exclude each other, sampling is a
// percentage, a custom tag has exactly one source, and an access-log filter
// must be a CEL expression that parses (Envoy would otherwise reject the
// whole listener, so a bad one is rejected here, at validation); so must a
// metric tag override's value (an UPSERT's CEL expression, which istio-proxy's
// stats filter evaluates), and a REMOVE carries none.
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { TelemetryCustomTag, TelemetrySpec } from '../telemetry.js';
import { arr, checkSchema, map, obj, oneOf, type Schema } from './schema.js';
import { checkPercentage } from './common.js';

const mode = obj({ mode: oneOf('CLIENT_AND_SERVER', 'CLIENT', 'SERVER') });
const providers = arr(obj({ name: 'string' }));
const targetRef = obj({ group: 'string', kind: 'string', name: 'string', namespace: 'string' });
const metricNames = [
  'ALL_METRICS',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
];

export const telemetrySchema: Schema = obj({
  selector: obj({ matchLabels: map('string') }),
  targetRef,
  targetRefs: arr(targetRef),
  tracing: arr(
    obj({
      match: mode,
      providers,
      randomSamplingPercentage: 'number',
      disableSpanReporting: 'boolean',
      customTags: map(
        obj({
          literal: obj({ value: 'string' }),
          environment: obj({ name: 'string', defaultValue: 'string' }),
          header: obj({ name: 'string', defaultValue: 'string' }),
          formatter: obj({ value: 'string' }),
        }),
      ),
      useRequestIdForTraceSampling: 'boolean',
      enableIstioTags: 'boolean',
    }),
  ),
  metrics: arr(
    obj({
      providers,
      overrides: arr(
        obj({
          match: obj({ metric: oneOf(...metricNames), customMetric: 'string', mode: oneOf('CLIENT_AND_SERVER', 'CLIENT', 'SERVER') }),
          disabled: 'boolean',
          tagOverrides: map(obj({ operation: oneOf('UPSERT', 'REMOVE'), value: 'string' })),
        }),
      ),
      reportingInterval: 'duration',
    }),
  ),
  accessLogging: arr(obj({ match: mode, providers, disabled: 'boolean', filter: obj({ expression: 'string' }) })),
});

export function validateTelemetry(spec: TelemetrySpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, telemetrySchema, 'spec', problems);
  if (problems.length > 0) return problems;
  const hasSelector = Object.keys(spec.selector?.matchLabels ?? {}).length > 0;
  const hasTargets = spec.targetRef !== undefined || (spec.targetRefs?.length ?? 0) > 0;
  if (hasSelector && hasTargets) problems.push('spec: only one of selector or targetRefs can be set');
  if (spec.targetRef !== undefined && (spec.targetRefs?.length ?? 0) > 0) problems.push('spec: only one of targetRef or targetRefs can be set');
  [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])].forEach((ref, i) => {
    if (!ref.kind || !ref.name) problems.push(`spec.targetRefs[${i}]: kind and name are required`);
  });
  const checkProviders = (list: { name: string }[] | undefined, path: string): void =>
    list?.forEach((p, i) => {
      if (!p.name) problems.push(`${path}.providers[${i}].name: required`);
    });
  spec.tracing?.forEach((tracing, i) => {
    const path = `spec.tracing[${i}]`;
    checkProviders(tracing.providers, path);
    checkPercentage(tracing.randomSamplingPercentage, `${path}.randomSamplingPercentage`, problems);
    for (const [name, tag] of Object.entries(tracing.customTags ?? {})) checkCustomTag(tag, `${path}.customTags.${name}`, problems);
  });
  spec.metrics?.forEach((metrics, i) => {
    checkProviders(metrics.providers, `spec.metrics[${i}]`);
    metrics.overrides?.forEach((override, j) => {
      const path = `spec.metrics[${i}].overrides[${j}]`;
      if (override.match?.metric !== undefined && override.match.customMetric !== undefined) {
        problems.push(`${path}.match: only one of metric or customMetric can be set`);
      }
      if (override.match?.customMetric === '') problems.push(`${path}.match.customMetric: must not be empty`);
      for (const [tag, tagOverride] of Object.entries(override.tagOverrides ?? {})) checkTagOverride(tag, tagOverride, `${path}.tagOverrides`, problems);
    });
  });
  spec.accessLogging?.forEach((logging, i) => {
    const path = `spec.accessLogging[${i}]`;
    checkProviders(logging.providers, path);
    const expression = logging.filter?.expression;
    if (expression !== undefined) {
      const problem = celProblem(expression);
      if (problem) problems.push(`${path}.filter.expression: must be a valid CEL expression: ${problem}`);
    }
  });
  return problems;
}

/** A tag override: a tag name, and an UPSERT's value (the default operation) a CEL expression; REMOVE takes no value. */
function checkTagOverride(tag: string, override: { operation?: 'UPSERT' | 'REMOVE'; value?: string }, path: string, problems: string[]): void {
  if (tag.trim() === '') problems.push(`${path}: a tag name must not be empty`);
  const at = `${path}.${tag}`;
  if (override.operation === 'REMOVE') {
    if (override.value !== undefined && override.value !== '') problems.push(`${at}.value: must not be set when operation is REMOVE`);
    return;
  }
  if (override.value === undefined || override.value === '') {
    problems.push(`${at}.value: must be set when operation is UPSERT`);
    return;
  }
  const problem = celProblem(override.value);
  if (problem) problems.push(`${at}.value: must be a valid CEL expression: ${problem}`);
}

function checkCustomTag(tag: TelemetryCustomTag, path: string, problems: string[]): void {
  const sources = (['literal', 'environment', 'header', 'formatter'] as const).filter((k) => tag[k] !== undefined);
  if (sources.length !== 1) {
    problems.push(`${path}: exactly one of literal, environment, header or formatter must be set`);
    return;
  }
  if (tag.environment && !tag.environment.name) problems.push(`${path}.environment.name: required`);
  if (tag.header && !tag.header.name) problems.push(`${path}.header.name: required`);
}

/** Why a CEL expression does not parse (its first line: the parser's message), or undefined when it does. */
export function celProblem(expression: string): string | undefined {
  if (expression.trim() === '') return 'empty expression';
  try {
    parseCel(expression);
    return undefined;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}
