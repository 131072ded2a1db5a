// One AuthorizationPolicy rule → one Envoy RBAC Policy, with istiod's
// semantics: every from/to/when entry becomes an AND of (OR of values) and
// NOT(OR of notValues); `from` entries are ORed as principals, `to` entries
// as permissions. HTTP-only keys on a TCP chain, and values that cannot be
// translated, fail the whole rule for ALLOW (fewer requests allowed) and are
// dropped from DENY and AUDIT rules (more requests denied): never widen access.
import type { AuthorizationRule } from './types.js';
import {
  cidrRange,
  headerMatcher,
  hostMatcher,
  jwtClaimMatcher,
  jwtPayloadMatcher,
  pathMatcher,
  portNumber,
  regexMatcher,
  requestHeaderMatcher,
  SpiffePrefix,
  stringMatcher,
  TranslationError,
} from './matchers.js';
import type { Permission, Policy, Principal, StringMatcher } from '../proto/envoyTypes.generated.js';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

type Side = 'permission' | 'principal';

/** What a key generator builds: a Permission on the permission side, a Principal on the principal side. */
type RbacMatcher = Permission | Principal;

/** Builds the matcher for one value, or for all values at once (JWT-backed keys). */
interface KeyGenerator {
  readonly side: Side;
  readonly httpOnly: boolean;
  readonly one?: (value: string) => RbacMatcher;
  readonly all?: (values: readonly string[]) => RbacMatcher;
}

interface KeyedValues {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
  readonly generator: KeyGenerator;
}

const authenticated = (principalName: StringMatcher): Principal => ({ authenticated: { principalName } });

const sourcePrincipal: KeyGenerator = { side: 'principal', httpOnly: false, one: (v) => authenticated(stringMatcher(v, SpiffePrefix)) };
const sourceNamespace: KeyGenerator = {
  side: 'principal',
  httpOnly: false,
  one: (v) => authenticated(regexMatcher(`.*/ns/${v.replaceAll('*', '.*')}/.*`)),
};
const sourceIp: KeyGenerator = { side: 'principal', httpOnly: false, one: (v) => ({ directRemoteIp: cidrRange(v) }) };
const remoteIp: KeyGenerator = { side: 'principal', httpOnly: false, one: (v) => ({ remoteIp: cidrRange(v) }) };

function serviceAccountGenerator(policyNamespace: string): KeyGenerator {
  return {
    side: 'principal',
    httpOnly: false,
    one: (value) => {
      const slash = value.indexOf('/');
      const [ns, sa] = slash >= 0 ? [value.slice(0, slash), value.slice(slash + 1)] : [policyNamespace, value];
      return authenticated(regexMatcher(`spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?`));
    },
  };
}

const anyValue = regexMatcher('.+');

/** `iss/sub` request principals, matched on the verified JWT's iss and sub claims. */
function requestPrincipalMatcher(value: string): Principal {
  const idx = value.lastIndexOf('/');
  const found = idx >= 0;
  const [iss, sub] = found ? [value.slice(0, idx), value.slice(idx + 1)] : [value, ''];
  let matchIss: StringMatcher;
  let matchSub: StringMatcher;
  if (value === '*') {
    matchIss = anyValue;
    matchSub = anyValue;
  } else if (value.startsWith('*')) {
    matchIss = !found ? anyValue : iss === '*' ? anyValue : { suffix: iss.slice(1) };
    matchSub = found ? { exact: sub } : { suffix: value.slice(1) };
  } else if (value.endsWith('*')) {
    matchIss = found ? { exact: iss } : { prefix: value.slice(0, -1) };
    matchSub = !found ? anyValue : sub === '*' ? anyValue : { prefix: sub.slice(0, -1) };
  } else {
    matchIss = { exact: iss };
    matchSub = { exact: sub };
  }
  return {
    andIds: {
      ids: [{ metadata: jwtPayloadMatcher(['iss'], { stringMatch: matchIss }) }, { metadata: jwtPayloadMatcher(['sub'], { stringMatch: matchSub }) }],
    },
  };
}

const requestPrincipal: KeyGenerator = {
  side: 'principal',
  httpOnly: true,
  all: (values) => {
    const ids = values.map(requestPrincipalMatcher);
    return ids.length === 1 ? ids[0]! : { orIds: { ids } };
  },
};

const claimGenerator = (claims: readonly string[]): KeyGenerator => ({
  side: 'principal',
  httpOnly: true,
  all: (values) => ({ metadata: jwtClaimMatcher(claims, values) }),
});

const hosts: KeyGenerator = { side: 'permission', httpOnly: true, one: (v) => ({ header: hostMatcher(v) }) };
const methods: KeyGenerator = { side: 'permission', httpOnly: true, one: (v) => ({ header: headerMatcher(':method', v) }) };
const paths: KeyGenerator = { side: 'permission', httpOnly: true, one: (v) => ({ urlPath: pathMatcher(v) }) };
const destinationPort: KeyGenerator = { side: 'permission', httpOnly: false, one: (v) => ({ destinationPort: portNumber(v) }) };
const destinationIp: KeyGenerator = { side: 'permission', httpOnly: false, one: (v) => ({ destinationIp: cidrRange(v) }) };
const connectionSni: KeyGenerator = { side: 'permission', httpOnly: false, one: (v) => ({ requestedServerName: stringMatcher(v) }) };

/** `[a][b]` → [a, b]; undefined when the brackets are malformed. */
export function bracketedNames(s: string): string[] | undefined {
  const names: string[] = [];
  let rest = s;
  while (rest.length > 0) {
    const m = /^\[([^[\]]+)\]/.exec(rest);
    if (!m) return undefined;
    names.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  return names.length > 0 ? names : undefined;
}

function envoyFilterGenerator(key: string): KeyGenerator | undefined {
  const m = /^experimental\.(envoy\.filters\.[^[\]]+)\[([^[\]]+)\]$/.exec(key);
  if (!m) return undefined;
  const [, filter, field] = m as unknown as [string, string, string];
  return {
    side: 'permission',
    httpOnly: false,
    one: (v) => {
      const list = v.startsWith('[') && v.endsWith(']');
      const match = stringMatcher(list ? v.slice(1, -1) : v);
      const value = list ? { listMatch: { oneOf: { stringMatch: match } } } : { stringMatch: match };
      return { metadata: { filter, path: [{ key: field }], value } };
    },
  };
}

/** The generator for a `when` key, or undefined for a key istiod does not know. */
export function conditionGenerator(key: string): KeyGenerator | undefined {
  switch (key) {
    case 'source.ip':
      return sourceIp;
    case 'remote.ip':
      return remoteIp;
    case 'source.namespace':
      return sourceNamespace;
    case 'source.principal':
      return sourcePrincipal;
    case 'request.auth.principal':
      return requestPrincipal;
    case 'request.auth.audiences':
      return claimGenerator(['aud']);
    case 'request.auth.presenter':
      return claimGenerator(['azp']);
    case 'destination.ip':
      return destinationIp;
    case 'destination.port':
      return destinationPort;
    case 'connection.sni':
      return connectionSni;
  }
  if (key.startsWith('request.headers')) {
    const names = bracketedNames(key.slice('request.headers'.length));
    if (!names || names.length !== 1) return undefined;
    const header = names[0]!;
    return { side: 'principal', httpOnly: true, one: (v) => ({ header: requestHeaderMatcher(header, v) }) };
  }
  if (key.startsWith('request.auth.claims')) {
    const claims = bracketedNames(key.slice('request.auth.claims'.length));
    return claims ? claimGenerator(claims) : undefined;
  }
  if (key.startsWith('experimental.envoy.filters.')) return envoyFilterGenerator(key);
  return undefined;
}

const keyed = (key: string, generator: KeyGenerator, values?: readonly string[], notValues?: readonly string[]): KeyedValues[] =>
  (values?.length ?? 0) + (notValues?.length ?? 0) === 0 ? [] : [{ key, generator, values: values ?? [], notValues: notValues ?? [] }];

interface RuleModel {
  /** One AND-list per `to` entry (or one for a rule without `to`). */
  readonly permissions: KeyedValues[][];
  /** One AND-list per `from` entry (or one for a rule without `from`). */
  readonly principals: KeyedValues[][];
}

/** Groups a rule's conditions as istiod does; throws TranslationError for an unknown `when` key. */
export function ruleModel(rule: AuthorizationRule, policyNamespace: string): RuleModel {
  const basePermission: KeyedValues[] = [];
  const basePrincipal: KeyedValues[] = [];
  for (const when of rule.when ?? []) {
    const generator = conditionGenerator(when.key);
    if (!generator) throw new TranslationError(`unknown attribute ${when.key}`);
    (generator.side === 'permission' ? basePermission : basePrincipal).push(...keyed(when.key, generator, when.values, when.notValues));
  }
  const principals = (rule.from ?? []).map(({ source: s }) => [
    ...(s
      ? [
          ...keyed('source.principal', sourcePrincipal, s.principals, s.notPrincipals),
          ...keyed('source.serviceAccount', serviceAccountGenerator(policyNamespace), s.serviceAccounts, s.notServiceAccounts),
          ...keyed('request.auth.principal', requestPrincipal, s.requestPrincipals, s.notRequestPrincipals),
          ...keyed('source.namespace', sourceNamespace, s.namespaces, s.notNamespaces),
          ...keyed('remote.ip', remoteIp, s.remoteIpBlocks, s.notRemoteIpBlocks),
          ...keyed('source.ip', sourceIp, s.ipBlocks, s.notIpBlocks),
        ]
      : []),
    ...basePrincipal,
  ]);
  const permissions = (rule.to ?? []).map(({ operation: o }) => [
    ...(o
      ? [
          ...keyed('hosts', hosts, o.hosts, o.notHosts),
          ...keyed('methods', methods, o.methods, o.notMethods),
          ...keyed('paths', paths, o.paths, o.notPaths),
          ...keyed('ports', destinationPort, o.ports, o.notPorts),
        ]
      : []),
    ...basePermission,
  ]);
  return {
    permissions: permissions.length > 0 ? permissions : [basePermission],
    principals: principals.length > 0 ? principals : [basePrincipal],
  };
}

/** Runs one generator call; under ALLOW a failure fails the rule, otherwise the value is dropped. */
function attempt(action: RbacAction, build: () => RbacMatcher): RbacMatcher | undefined {
  try {
    return build();
  } catch (error) {
    if (action === 'ALLOW' || !(error instanceof TranslationError)) throw error;
    return undefined;
  }
}

/** The AND-members one key contributes: OR(values) and NOT(OR(notValues)). */
function keyMatchers(k: KeyedValues, forTCP: boolean, action: RbacAction): RbacMatcher[] {
  const side = k.generator.side;
  const or =
    side === 'permission' ? (rules: RbacMatcher[]): RbacMatcher => ({ orRules: { rules } }) : (ids: RbacMatcher[]): RbacMatcher => ({ orIds: { ids } });
  const not = side === 'permission' ? (rule: RbacMatcher): RbacMatcher => ({ notRule: rule }) : (id: RbacMatcher): RbacMatcher => ({ notId: id });
  const checkTcp = (): void => {
    if (forTCP && k.generator.httpOnly) throw new TranslationError(`${JSON.stringify(k.key)} is HTTP only`);
  };
  const out: RbacMatcher[] = [];
  const all = k.generator.all;
  if (all) {
    if (k.values.length > 0) {
      const m = attempt(action, () => (checkTcp(), all(k.values)));
      if (m) out.push(m);
    }
    if (k.notValues.length > 0) {
      const m = attempt(action, () => (checkTcp(), all(k.notValues)));
      if (m) out.push(not(m));
    }
    return out;
  }
  const one = k.generator.one!;
  const build = (values: readonly string[]): RbacMatcher[] =>
    values.map((v) => attempt(action, () => (checkTcp(), one(v)))).filter((m): m is RbacMatcher => m !== undefined);
  const matched = build(k.values);
  if (matched.length > 0) out.push(or(matched));
  const excluded = build(k.notValues);
  if (excluded.length > 0) out.push(not(or(excluded)));
  return out;
}

/**
 * The RBAC Policy for one rule. Throws TranslationError when the rule must be
 * skipped (ALLOW rule with an untranslatable or HTTP-only part on TCP).
 */
export function rulePolicy(rule: AuthorizationRule, policyNamespace: string, forTCP: boolean, action: RbacAction): Policy {
  const model = ruleModel(rule, policyNamespace);
  const permissions = model.permissions.map((list): Permission => {
    const rules = list.flatMap((k) => keyMatchers(k, forTCP, action));
    return { andRules: { rules: rules.length > 0 ? rules : [{ any: true }] } };
  });
  const principals = model.principals.map((list): Principal => {
    const ids = list.flatMap((k) => keyMatchers(k, forTCP, action));
    return { andIds: { ids: ids.length > 0 ? ids : [{ any: true }] } };
  });
  return { permissions, principals };
}

/** A policy that never matches: istiod's translation of a policy without rules. */
export const policyMatchingNothing: Policy = {
  permissions: [{ notRule: { any: true } }],
  principals: [{ notId: { any: true } }],
};

/** `ns[NS]-policy[NAME]-rule[N]`, the RBAC policy name istiod uses. */
export function rbacPolicyName(namespace: string, name: string, ruleIndex: number): string {
  return `ns[${namespace}]-policy[${name}]-rule[${ruleIndex}]`;
}
