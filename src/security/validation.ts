// Validation of the three security kinds, with istiod's rules where it has
// them. Each problem reads `field: reason`; an object with problems is
// rejected by the model (which keeps its last valid version).
import type { KubeObject } from '../model/kube.js';
import { withModelValidators, type KindValidatedAbove, type KindValidators, type ObjectValidator } from '../model/validators.js';
import { arr, checkSchema, map, obj, oneOf, type Schema } from '../model/validation/schema.js';
import { conditionGenerator } from './authzRule.js';
import { cidrRange, TranslationError } from './matchers.js';
import { parseJwksUri } from './jwtAuthn.js';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from './types.js';

const strings = arr('string');
const selector = obj({ matchLabels: map('string') });

const authorizationPolicySchema: Schema = obj({
  selector,
  targetRef: 'any',
  targetRefs: 'any',
  action: 'string',
  provider: obj({ name: 'string' }),
  rules: arr(
    obj({
      from: arr(
        obj({
          source: obj({
            principals: strings,
            notPrincipals: strings,
            requestPrincipals: strings,
            notRequestPrincipals: strings,
            namespaces: strings,
            notNamespaces: strings,
            ipBlocks: strings,
            notIpBlocks: strings,
            remoteIpBlocks: strings,
            notRemoteIpBlocks: strings,
            serviceAccounts: strings,
            notServiceAccounts: strings,
          }),
        }),
      ),
      to: arr(
        obj({
          operation: obj({
            hosts: strings,
            notHosts: strings,
            ports: strings,
            notPorts: strings,
            methods: strings,
            notMethods: strings,
            paths: strings,
            notPaths: strings,
          }),
        }),
      ),
      when: arr(obj({ key: 'string', values: strings, notValues: strings })),
    }),
  ),
});

const mtlsMode = oneOf('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT');
const peerAuthenticationSchema: Schema = obj({
  selector,
  mtls: obj({ mode: mtlsMode }),
  portLevelMtls: map(obj({ mode: mtlsMode })),
});

const requestAuthenticationSchema: Schema = obj({
  selector,
  targetRef: 'any',
  targetRefs: 'any',
  jwtRules: arr(
    obj({
      issuer: 'string',
      audiences: strings,
      jwksUri: 'string',
      jwks: 'string',
      fromHeaders: arr(obj({ name: 'string', prefix: 'string' })),
      fromParams: strings,
      fromCookies: strings,
      outputPayloadToHeader: 'string',
      forwardOriginalToken: 'boolean',
      outputClaimToHeaders: arr(obj({ header: 'string', claim: 'string' })),
      timeout: 'duration',
      spaceDelimitedClaims: strings,
    }),
  ),
});

function specProblems(object: KubeObject, schema: Schema): { spec: Record<string, unknown> | undefined; problems: string[] } {
  const spec = object.spec;
  if (spec === undefined || spec === null) return { spec: {}, problems: [] };
  if (typeof spec !== 'object' || Array.isArray(spec)) return { spec: undefined, problems: ['spec: must be an object'] };
  const problems: string[] = [];
  checkSchema(spec, schema, 'spec', problems);
  return { spec: spec as Record<string, unknown>, problems };
}

function checkSelector(sel: { matchLabels?: Record<string, string> } | undefined, problems: string[]): void {
  if (sel === undefined || sel === null) return;
  const labels = sel.matchLabels ?? {};
  if (Object.keys(labels).length === 0) problems.push('spec.selector.matchLabels: must have at least one label (omit the selector to select every workload)');
  for (const key of Object.keys(labels)) if (key.length === 0) problems.push('spec.selector.matchLabels: label keys must not be empty');
}

/** `*`, or a value with at most one `*`, at its start or end. */
function wildcardProblem(value: string): string | undefined {
  if (value === '*') return undefined;
  const inner = value.replace(/^\*/, '').replace(/\*$/, '');
  if (value.startsWith('*') && value.endsWith('*') && value.length > 1) return `${JSON.stringify(value)} may use * only at its start or its end`;
  if (inner.includes('*')) return `${JSON.stringify(value)} may use * only at its start or its end`;
  return undefined;
}

const spiffePath = /^[^/\s*]+\/ns\/[^/\s*]+\/sa\/[^/\s*]+$/;

/** Principals are SPIFFE paths without the scheme: `TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`, optionally with a leading or trailing `*`. */
function principalProblem(value: string): string | undefined {
  if (value === '*') return undefined;
  if (value.startsWith('spiffe://')) return `${JSON.stringify(value)} must be written without the spiffe:// scheme`;
  const wildcard = wildcardProblem(value);
  if (wildcard) return wildcard;
  if (/\s/.test(value)) return `${JSON.stringify(value)} is not a SPIFFE path`;
  if (!value.includes('*') && !spiffePath.test(value)) return `${JSON.stringify(value)} is not a SPIFFE path TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`;
  if (value.includes('*') && !value.includes('/')) return `${JSON.stringify(value)} is not a SPIFFE path TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`;
  return undefined;
}

function cidrProblem(value: string): string | undefined {
  try {
    cidrRange(value);
    return undefined;
  } catch (error) {
    if (error instanceof TranslationError) return error.message;
    throw error;
  }
}

function portProblem(value: string): string | undefined {
  return /^\d+$/.test(value) && Number(value) <= 65535 ? undefined : `invalid port ${JSON.stringify(value)}`;
}

function checkEach(values: unknown, path: string, check: (v: string) => string | undefined, problems: string[]): void {
  if (!Array.isArray(values)) return;
  values.forEach((v, i) => {
    if (typeof v !== 'string') return;
    const problem = check(v);
    if (problem) problems.push(`${path}[${i}]: ${problem}`);
  });
}

const ipKeys = new Set(['source.ip', 'remote.ip', 'destination.ip']);

export function authorizationPolicyProblems(object: KubeObject): string[] {
  const { spec, problems } = specProblems(object, authorizationPolicySchema);
  if (!spec || problems.length > 0) return problems;
  const ap = spec as AuthorizationPolicySpec;
  checkSelector(ap.selector, problems);
  const action = ap.action ?? 'ALLOW';
  if (!['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'].includes(action)) {
    problems.push(`spec.action: unknown action ${JSON.stringify(action)}, want ALLOW, DENY, AUDIT or CUSTOM`);
  } else if (action === 'CUSTOM') {
    problems.push('spec.action: CUSTOM (external authorization) is not supported by meshd');
  } else if (ap.provider !== undefined) {
    problems.push(`spec.provider: only allowed with action CUSTOM, got ${action}`);
  }
  (ap.rules ?? []).forEach((rule, r) => {
    const at = `spec.rules[${r}]`;
    if (rule === null || rule === undefined) return void problems.push(`${at}: must not be null`);
    (rule.from ?? []).forEach((from, f) => {
      const s = from?.source;
      const p = `${at}.from[${f}].source`;
      if (!s || Object.values(s).every((v) => !Array.isArray(v) || v.length === 0)) return void problems.push(`${p}: must not be empty`);
      checkEach(s.principals, `${p}.principals`, principalProblem, problems);
      checkEach(s.notPrincipals, `${p}.notPrincipals`, principalProblem, problems);
      for (const field of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const)
        checkEach(s[field], `${p}.${field}`, cidrProblem, problems);
      for (const field of ['namespaces', 'notNamespaces', 'requestPrincipals', 'notRequestPrincipals'] as const)
        checkEach(s[field], `${p}.${field}`, wildcardProblem, problems);
    });
    (rule.to ?? []).forEach((to, t) => {
      const o = to?.operation;
      const p = `${at}.to[${t}].operation`;
      if (!o || Object.values(o).every((v) => !Array.isArray(v) || v.length === 0)) return void problems.push(`${p}: must not be empty`);
      checkEach(o.ports, `${p}.ports`, portProblem, problems);
      checkEach(o.notPorts, `${p}.notPorts`, portProblem, problems);
      for (const field of ['hosts', 'notHosts', 'methods', 'notMethods'] as const) checkEach(o[field], `${p}.${field}`, wildcardProblem, problems);
      for (const field of ['paths', 'notPaths'] as const) {
        checkEach(o[field], `${p}.${field}`, (v) => (v.includes('{') ? `path template ${JSON.stringify(v)} is not supported` : wildcardProblem(v)), problems);
      }
    });
    (rule.when ?? []).forEach((when, w) => {
      const p = `${at}.when[${w}]`;
      if (!when?.key) return void problems.push(`${p}.key: required`);
      if (!conditionGenerator(when.key)) return void problems.push(`${p}.key: unknown attribute ${JSON.stringify(when.key)}`);
      if (!when.values?.length && !when.notValues?.length) problems.push(`${p}: values or notValues required`);
      const check = ipKeys.has(when.key)
        ? cidrProblem
        : when.key === 'destination.port'
          ? portProblem
          : when.key === 'source.principal'
            ? principalProblem
            : wildcardProblem;
      checkEach(when.values, `${p}.values`, check, problems);
      checkEach(when.notValues, `${p}.notValues`, check, problems);
    });
  });
  return problems;
}

export function peerAuthenticationProblems(object: KubeObject): string[] {
  const { spec, problems } = specProblems(object, peerAuthenticationSchema);
  if (!spec || problems.length > 0) return problems;
  const pa = spec as PeerAuthenticationSpec;
  checkSelector(pa.selector, problems);
  const ports = Object.keys(pa.portLevelMtls ?? {});
  // istiod's wording (its webhook and CRD refuse the same object).
  if (ports.length > 0 && !pa.selector) problems.push('spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS');
  for (const port of ports) {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) problems.push(`spec.portLevelMtls.${port}: port must be between 1 and 65535`);
  }
  return problems;
}

export function requestAuthenticationProblems(object: KubeObject): string[] {
  const { spec, problems } = specProblems(object, requestAuthenticationSchema);
  if (!spec || problems.length > 0) return problems;
  const ra = spec as RequestAuthenticationSpec;
  checkSelector(ra.selector, problems);
  (ra.jwtRules ?? []).forEach((rule, i) => {
    const p = `spec.jwtRules[${i}]`;
    if (!rule?.issuer) problems.push(`${p}.issuer: required`);
    if (rule?.jwksUri !== undefined) {
      try {
        parseJwksUri(rule.jwksUri);
      } catch (error) {
        problems.push(`${p}.jwksUri: ${(error as Error).message}`);
      }
    }
    if (rule?.jwks !== undefined) {
      try {
        const parsed = JSON.parse(rule.jwks) as { keys?: unknown };
        if (!Array.isArray(parsed.keys)) problems.push(`${p}.jwks: must be a JWKS document with a keys list`);
      } catch {
        problems.push(`${p}.jwks: not valid JSON`);
      }
    }
    (rule?.fromHeaders ?? []).forEach((h, j) => {
      if (!h?.name) problems.push(`${p}.fromHeaders[${j}].name: required`);
    });
    (rule?.outputClaimToHeaders ?? []).forEach((c, j) => {
      if (!c?.header) problems.push(`${p}.outputClaimToHeaders[${j}].header: required`);
      if (!c?.claim) problems.push(`${p}.outputClaimToHeaders[${j}].claim: required`);
    });
  });
  return problems;
}

/** The validators of the kinds the model leaves to this layer. */
export const securityValidators: Readonly<Record<KindValidatedAbove, ObjectValidator>> = {
  AuthorizationPolicy: authorizationPolicyProblems,
  PeerAuthentication: peerAuthenticationProblems,
  RequestAuthentication: requestAuthenticationProblems,
};

/**
 * Every kind's validator: the one table the composition roots (serve, `meshctl analyze`, tests' helpers) hand to
 * the model, whose validation webhook reads it back from the model.
 */
export const kindValidators: KindValidators = withModelValidators(securityValidators);
