// VirtualService semantics beyond field shapes (istio/api networking
// v1alpha3 rules as istiod's validation applies them).
import type { HTTPRoute, VirtualServiceSpec } from '../istio.js';
import { checkSchema } from './schema.js';
import { virtualServiceSchema } from './istioSchemas.js';
import { checkNonNegative, checkPercentage, checkPort, checkStringMatch, hostProblem, regexProblem } from './common.js';

export function validateVirtualService(spec: VirtualServiceSpec): string[] {
  const problems: string[] = [];
  checkSchema(spec, virtualServiceSchema, 'spec', problems);
  if (problems.length > 0) return problems;
  // Without hosts a VirtualService can only serve as a delegate: http routes only, no gateways (istiod's rules).
  const isDelegate = !spec.hosts || spec.hosts.length === 0;
  if (isDelegate) {
    if (spec.gateways?.length) problems.push('spec.gateways: a delegate VirtualService (one without hosts) must not name gateways');
    if (spec.tcp?.length) problems.push('spec.tcp: a delegate VirtualService (one without hosts) must not have tcp routes');
    if (spec.tls?.length) problems.push('spec.tls: a delegate VirtualService (one without hosts) must not have tls routes');
  }
  spec.hosts?.forEach((host, i) => {
    const problem = hostProblem(host);
    if (problem) problems.push(`spec.hosts[${i}]: ${problem}`);
  });
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) problems.push('spec: at least one of http, tcp or tls routes is required');
  spec.http?.forEach((route, i) => checkHttpRoute(route, `spec.http[${i}]`, isDelegate, problems));
  for (const [kind, routes] of [
    ['tcp', spec.tcp],
    ['tls', spec.tls],
  ] as const) {
    routes?.forEach((route, i) => {
      if (!route.route || route.route.length === 0) problems.push(`spec.${kind}[${i}].route: at least one destination is required`);
      route.route?.forEach((dest, j) => {
        const path = `spec.${kind}[${i}].route[${j}]`;
        checkNonNegative(dest.weight, `${path}.weight`, problems);
        const problem = hostProblem(dest.destination?.host);
        if (problem) problems.push(`${path}.destination.host: ${problem}`);
        checkPort(dest.destination?.port?.number, `${path}.destination.port.number`, problems);
      });
    });
  }
  spec.tls?.forEach((route, i) => {
    if (!route.match || route.match.length === 0) problems.push(`spec.tls[${i}].match: TLS routes need at least one match with sniHosts`);
    route.match?.forEach((m, j) => {
      if (!m.sniHosts || m.sniHosts.length === 0) problems.push(`spec.tls[${i}].match[${j}].sniHosts: at least one SNI host is required`);
    });
  });
  return problems;
}

function checkHttpRoute(route: HTTPRoute, path: string, inDelegate: boolean, problems: string[]): void {
  const actions = (['route', 'redirect', 'directResponse'] as const).filter((k) => route[k] !== undefined);
  if (route.delegate && !inDelegate) {
    // A root entry takes its routes from the delegate: a route or redirect of its own would be ambiguous.
    for (const field of ['route', 'redirect'] as const) {
      if (route[field] !== undefined) problems.push(`${path}.${field}: an http route with delegate must not also set ${field}`);
    }
  } else {
    if (route.delegate) problems.push(`${path}.delegate: a delegate VirtualService cannot delegate again (one level only)`);
    if (actions.length === 0) problems.push(`${path}: one of route, redirect or directResponse is required`);
  }
  if (actions.length > 1) problems.push(`${path}: only one of route, redirect, directResponse may be set, got ${actions.join(' and ')}`);
  route.match?.forEach((m, i) => {
    const mp = `${path}.match[${i}]`;
    checkStringMatch(m.uri, `${mp}.uri`, problems);
    checkStringMatch(m.method, `${mp}.method`, problems);
    checkStringMatch(m.authority, `${mp}.authority`, problems);
    checkStringMatch(m.scheme, `${mp}.scheme`, problems);
    for (const [field, matches] of [
      ['headers', m.headers],
      ['withoutHeaders', m.withoutHeaders],
      ['queryParams', m.queryParams],
    ] as const) {
      for (const [name, sm] of Object.entries(matches ?? {})) checkStringMatch(sm, `${mp}.${field}.${name}`, problems);
    }
    checkPort(m.port, `${mp}.port`, problems);
  });
  route.route?.forEach((dest, i) => {
    const dp = `${path}.route[${i}]`;
    checkNonNegative(dest.weight, `${dp}.weight`, problems);
    const problem = hostProblem(dest.destination?.host);
    if (problem) problems.push(`${dp}.destination.host: ${problem}`);
    checkPort(dest.destination?.port?.number, `${dp}.destination.port.number`, problems);
  });
  if (route.route && route.route.length > 1 && route.route.every((d) => (d.weight ?? 0) === 0)) {
    problems.push(`${path}.route: weights of several destinations must not all be zero`);
  }
  if (route.retries) checkNonNegative(route.retries.attempts, `${path}.retries.attempts`, problems);
  if (route.fault) {
    if (route.fault.delay && !route.fault.delay.fixedDelay) problems.push(`${path}.fault.delay.fixedDelay: required`);
    checkPercentage(route.fault.delay?.percentage?.value, `${path}.fault.delay.percentage.value`, problems);
    checkPercentage(route.fault.abort?.percentage?.value, `${path}.fault.abort.percentage.value`, problems);
    const status = route.fault.abort?.httpStatus;
    if (route.fault.abort && status === undefined && !route.fault.abort.grpcStatus) problems.push(`${path}.fault.abort: httpStatus or grpcStatus is required`);
    if (status !== undefined && (status < 200 || status > 599)) problems.push(`${path}.fault.abort.httpStatus: ${status} must be between 200 and 599`);
  }
  checkPercentage(route.mirrorPercentage?.value, `${path}.mirrorPercentage.value`, problems);
  if (route.mirror) {
    const problem = hostProblem(route.mirror.host);
    if (problem) problems.push(`${path}.mirror.host: ${problem}`);
  }
  route.mirrors?.forEach((m, i) => {
    const problem = hostProblem(m.destination?.host);
    if (problem) problems.push(`${path}.mirrors[${i}].destination.host: ${problem}`);
    checkPercentage(m.percentage?.value, `${path}.mirrors[${i}].percentage.value`, problems);
  });
  if (route.directResponse) {
    const status = route.directResponse.status;
    if (status === undefined || status < 200 || status > 599) problems.push(`${path}.directResponse.status: ${status} must be between 200 and 599`);
  }
  if (route.redirect?.redirectCode !== undefined) {
    const code = route.redirect.redirectCode;
    if (code < 300 || code > 399) problems.push(`${path}.redirect.redirectCode: ${code} must be a 3xx code`);
  }
  const uriRegex = route.rewrite?.uriRegexRewrite?.match;
  if (uriRegex !== undefined) {
    const problem = regexProblem(uriRegex);
    if (problem) problems.push(`${path}.rewrite.uriRegexRewrite.match: ${problem}`);
  }
  if (route.rewrite?.uri !== undefined && route.rewrite.uriRegexRewrite) {
    problems.push(`${path}.rewrite: uri and uriRegexRewrite are mutually exclusive`);
  }
  route.corsPolicy?.allowOrigins?.forEach((o, i) => checkStringMatch(o, `${path}.corsPolicy.allowOrigins[${i}]`, problems));
}
