// Shape checks for the Gateway API kinds meshd reads. The API server's CRD
// schema does most of this in Kubernetes mode; in file mode these are what
// reject an object. Semantic problems (a listener nobody can attach to, a
// missing backend) are not errors here: they become status conditions.
import { arr, checkSchema, map, obj, oneOf, type Schema } from './schema.js';

/** Gateway API durations (GEP-2257): up to four `<n>h|m|s|ms` parts, e.g. `1m30s`. */
export const gatewayDurationPattern = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

const str: Schema = 'string';
const int: Schema = 'integer';
const labelSelector = obj({ matchLabels: map(str), matchExpressions: arr(obj({ key: str, operator: str, values: arr(str) })) });
const objectRef = obj({ group: str, kind: str, name: str, namespace: str });
const backendRef = obj({ group: str, kind: str, name: str, namespace: str, port: int, weight: int, filters: 'any' });
const parentRef = obj({ group: str, kind: str, namespace: str, name: str, sectionName: str, port: int });
const headerMatch = obj({ type: oneOf('Exact', 'RegularExpression'), name: str, value: str });
const headerModifier = obj({ set: arr(obj({ name: str, value: str })), add: arr(obj({ name: str, value: str })), remove: arr(str) });
const pathModifier = obj({ type: oneOf('ReplaceFullPath', 'ReplacePrefixMatch'), replaceFullPath: str, replacePrefixMatch: str });
const filter = obj({
  type: str,
  requestHeaderModifier: headerModifier,
  responseHeaderModifier: headerModifier,
  requestRedirect: obj({ scheme: str, hostname: str, path: pathModifier, port: int, statusCode: int }),
  urlRewrite: obj({ hostname: str, path: pathModifier }),
  requestMirror: obj({ backendRef, percent: int, fraction: obj({ numerator: int, denominator: int }) }),
  extensionRef: 'any',
  cors: 'any',
});
const common = { parentRefs: arr(parentRef), hostnames: arr(str) };

const gatewayClassSchema = obj({ controllerName: str, description: str, parametersRef: 'any' });
const gatewaySchema = obj({
  gatewayClassName: str,
  addresses: arr(obj({ type: str, value: str })),
  infrastructure: 'any',
  listeners: arr(obj({
    name: str, hostname: str, port: int, protocol: str,
    tls: obj({ mode: oneOf('Terminate', 'Passthrough'), certificateRefs: arr(objectRef), options: map(str), frontendValidation: 'any' }),
    allowedRoutes: obj({ namespaces: obj({ from: oneOf('Same', 'All', 'Selector'), selector: labelSelector }), kinds: arr(obj({ group: str, kind: str })) }),
  })),
});
const routeSchema = obj({
  ...common,
  rules: arr(obj({
    name: str,
    matches: arr(obj({
      path: obj({ type: oneOf('Exact', 'PathPrefix', 'RegularExpression'), value: str }),
      headers: arr(headerMatch),
      queryParams: arr(headerMatch),
      method: str,
    })),
    filters: arr(filter),
    backendRefs: arr(backendRef),
    timeouts: obj({ request: str, backendRequest: str }),
    sessionPersistence: 'any',
    retry: 'any',
  })),
});
const grpcRouteSchema = obj({
  ...common,
  rules: arr(obj({
    name: str,
    matches: arr(obj({ method: obj({ type: oneOf('Exact', 'RegularExpression'), service: str, method: str }), headers: arr(headerMatch) })),
    filters: arr(filter),
    backendRefs: arr(backendRef),
    sessionPersistence: 'any',
  })),
});
const referenceGrantSchema = obj({
  from: arr(obj({ group: str, kind: str, namespace: str })),
  to: arr(obj({ group: str, kind: str, name: str })),
});

function checked(schema: Schema, rules: (spec: Record<string, unknown>, problems: string[]) => void): (spec: unknown) => string[] {
  return (spec) => {
    const problems: string[] = [];
    checkSchema(spec, schema, 'spec', problems);
    if (problems.length === 0) rules(spec as Record<string, unknown>, problems);
    return problems;
  };
}

function required(spec: Record<string, unknown>, field: string, problems: string[]): void {
  if (spec[field] === undefined || spec[field] === '') problems.push(`spec.${field}: required`);
}

export const validateGatewayClass = checked(gatewayClassSchema, (spec, problems) => required(spec, 'controllerName', problems));

export const validateKubernetesGateway = checked(gatewaySchema, (spec, problems) => {
  required(spec, 'gatewayClassName', problems);
  const listeners = (spec.listeners ?? []) as { name?: string; port?: number; protocol?: string }[];
  if (listeners.length === 0) problems.push('spec.listeners: at least one listener is required');
  const names = new Set<string>();
  listeners.forEach((l, i) => {
    if (!l.name) problems.push(`spec.listeners[${i}].name: required`);
    else if (names.has(l.name)) problems.push(`spec.listeners[${i}].name: duplicate listener name ${JSON.stringify(l.name)}`);
    else names.add(l.name);
    if (typeof l.port !== 'number' || l.port < 1 || l.port > 65535) problems.push(`spec.listeners[${i}].port: must be 1-65535`);
    if (!l.protocol) problems.push(`spec.listeners[${i}].protocol: required`);
  });
});

function checkRules(spec: Record<string, unknown>, problems: string[]): void {
  ((spec.parentRefs ?? []) as { name?: string }[]).forEach((p, i) => {
    if (!p.name) problems.push(`spec.parentRefs[${i}].name: required`);
  });
  ((spec.rules ?? []) as { backendRefs?: { name?: string }[]; timeouts?: Record<string, string> }[]).forEach((rule, i) => {
    rule.backendRefs?.forEach((b, j) => {
      if (!b.name) problems.push(`spec.rules[${i}].backendRefs[${j}].name: required`);
    });
    for (const [field, value] of Object.entries(rule.timeouts ?? {})) {
      if (!gatewayDurationPattern.test(value)) problems.push(`spec.rules[${i}].timeouts.${field}: malformed duration ${JSON.stringify(value)}`);
    }
  });
}

export const validateRoute = checked(routeSchema, checkRules);
export const validateGrpcRoute = checked(grpcRouteSchema, checkRules);

export const validateReferenceGrant = checked(referenceGrantSchema, (spec, problems) => {
  if (!Array.isArray(spec.from) || spec.from.length === 0) problems.push('spec.from: at least one entry is required');
  if (!Array.isArray(spec.to) || spec.to.length === 0) problems.push('spec.to: at least one entry is required');
});
