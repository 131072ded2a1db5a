// Shape checks for the Gateway API kinds meshd reads. The API server's CRD
// schema does most of this in Kubernetes mode; in file mode these are what
// reject an object. Semantic problems (a listener nobody can attach to, a
// missing backend) are not errors here: they become status conditions.
import { arr, checkSchema, map, obj, oneOf, type Schema } from './schema.js';
import { hostProblem, regexProblem } from './common.js';

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
  listeners: arr(
    obj({
      name: str,
      hostname: str,
      port: int,
      protocol: str,
      tls: obj({ mode: oneOf('Terminate', 'Passthrough'), certificateRefs: arr(objectRef), options: map(str), frontendValidation: 'any' }),
      allowedRoutes: obj({ namespaces: obj({ from: oneOf('Same', 'All', 'Selector'), selector: labelSelector }), kinds: arr(obj({ group: str, kind: str })) }),
    }),
  ),
});
const routeSchema = obj({
  ...common,
  rules: arr(
    obj({
      name: str,
      matches: arr(
        obj({
          path: obj({ type: oneOf('Exact', 'PathPrefix', 'RegularExpression'), value: str }),
          headers: arr(headerMatch),
          queryParams: arr(headerMatch),
          method: str,
        }),
      ),
      filters: arr(filter),
      backendRefs: arr(backendRef),
      timeouts: obj({ request: str, backendRequest: str }),
      sessionPersistence: 'any',
      retry: 'any',
    }),
  ),
});
const grpcRouteSchema = obj({
  ...common,
  rules: arr(
    obj({
      name: str,
      matches: arr(obj({ method: obj({ type: oneOf('Exact', 'RegularExpression'), service: str, method: str }), headers: arr(headerMatch) })),
      filters: arr(filter),
      backendRefs: arr(backendRef),
      sessionPersistence: 'any',
    }),
  ),
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
    const hostname = (l as { hostname?: string }).hostname;
    const problem = hostname !== undefined ? hostProblem(hostname) : undefined;
    if (problem) problems.push(`spec.listeners[${i}].hostname: ${problem}`);
  });
});

/** HTTP header names as RFC 7230 tokens (the Gateway API's HTTPHeaderName pattern). */
const headerName = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const redirectCodes = [301, 302, 303, 307, 308];

interface RuleShape {
  matches?: {
    path?: { type?: string; value?: string };
    headers?: { type?: string; name: string; value: string }[];
    queryParams?: { type?: string; name: string; value: string }[];
  }[];
  filters?: {
    type?: string;
    requestHeaderModifier?: { set?: { name: string }[]; add?: { name: string }[]; remove?: string[] };
    responseHeaderModifier?: { set?: { name: string }[]; add?: { name: string }[]; remove?: string[] };
    requestRedirect?: { statusCode?: number; port?: number; hostname?: string };
    urlRewrite?: { hostname?: string };
    requestMirror?: { backendRef?: { name?: string; port?: number }; percent?: number };
  }[];
  backendRefs?: { name?: string; port?: number; weight?: number }[];
  timeouts?: Record<string, string>;
}

/** The spec's value limits, which the CRD enforces in a cluster and these enforce in file mode (Envoy would refuse the rest). */
function checkRule(rule: RuleShape, path: string, problems: string[]): void {
  const port = (value: number | undefined, where: string): void => {
    if (value !== undefined && (value < 1 || value > 65535)) problems.push(`${where}: must be 1-65535`);
  };
  rule.matches?.forEach((m, j) => {
    const at = `${path}.matches[${j}]`;
    const value = m.path?.value;
    if (value !== undefined && m.path?.type !== 'RegularExpression' && !value.startsWith('/')) problems.push(`${at}.path.value: must start with "/"`);
    if (value !== undefined && m.path?.type === 'RegularExpression') {
      const problem = regexProblem(value);
      if (problem) problems.push(`${at}.path.value: ${problem}`);
    }
    for (const [field, list] of [
      ['headers', m.headers],
      ['queryParams', m.queryParams],
    ] as const) {
      list?.forEach((h, k) => {
        if (field === 'headers' && !headerName.test(h.name ?? '')) problems.push(`${at}.${field}[${k}].name: invalid header name ${JSON.stringify(h.name)}`);
        if (h.type === 'RegularExpression') {
          const problem = regexProblem(h.value ?? '');
          if (problem) problems.push(`${at}.${field}[${k}].value: ${problem}`);
        }
      });
    }
  });
  rule.filters?.forEach((f, j) => {
    const at = `${path}.filters[${j}]`;
    for (const [field, modifier] of [
      ['requestHeaderModifier', f.requestHeaderModifier],
      ['responseHeaderModifier', f.responseHeaderModifier],
    ] as const) {
      const names = [...(modifier?.set ?? []).map((h) => h.name), ...(modifier?.add ?? []).map((h) => h.name), ...(modifier?.remove ?? [])];
      for (const name of names) if (!headerName.test(name ?? '')) problems.push(`${at}.${field}: invalid header name ${JSON.stringify(name)}`);
    }
    const code = f.requestRedirect?.statusCode;
    if (code !== undefined && !redirectCodes.includes(code)) problems.push(`${at}.requestRedirect.statusCode: must be one of ${redirectCodes.join(', ')}`);
    port(f.requestRedirect?.port, `${at}.requestRedirect.port`);
    for (const [field, hostname] of [
      ['requestRedirect', f.requestRedirect?.hostname],
      ['urlRewrite', f.urlRewrite?.hostname],
    ] as const) {
      const problem = hostname !== undefined ? hostProblem(hostname) : undefined;
      if (problem) problems.push(`${at}.${field}.hostname: ${problem}`);
    }
    const mirror = f.requestMirror;
    if (mirror && !mirror.backendRef?.name) problems.push(`${at}.requestMirror.backendRef.name: required`);
    port(mirror?.backendRef?.port, `${at}.requestMirror.backendRef.port`);
    if (mirror?.percent !== undefined && (mirror.percent < 0 || mirror.percent > 100)) problems.push(`${at}.requestMirror.percent: must be 0-100`);
  });
  rule.backendRefs?.forEach((b, j) => {
    port(b.port, `${path}.backendRefs[${j}].port`);
    if (b.weight !== undefined && (b.weight < 0 || b.weight > 1_000_000)) problems.push(`${path}.backendRefs[${j}].weight: must be 0-1000000`);
  });
}

function checkRules(spec: Record<string, unknown>, problems: string[]): void {
  ((spec.parentRefs ?? []) as { name?: string; port?: number }[]).forEach((p, i) => {
    if (!p.name) problems.push(`spec.parentRefs[${i}].name: required`);
  });
  ((spec.hostnames ?? []) as string[]).forEach((h, i) => {
    const problem = hostProblem(h);
    if (problem) problems.push(`spec.hostnames[${i}]: ${problem}`);
  });
  ((spec.rules ?? []) as (RuleShape & { backendRefs?: { name?: string }[]; timeouts?: Record<string, string> })[]).forEach((rule, i) => {
    checkRule(rule, `spec.rules[${i}]`, problems);
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
