// Invalid security objects are rejected with the field and the reason;
// valid ones pass. Also: rejected AuthorizationPolicies fail closed.
import { describe, expect, it } from 'vitest';
import {
  authorizationPolicyFrom,
  authorizationPolicyProblems,
  buildRbacFilters,
  failClosedAuthorizationPolicy,
  peerAuthenticationProblems,
  requestAuthenticationProblems,
} from '../../src/security/index.js';
import type { KubeObject } from '../../src/model/kube.js';
import { failClosedAnnotation } from '../../src/model/kinds.js';

const object = (kind: string, spec: unknown, name = 'p'): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind,
  metadata: { name, namespace: 'shop' },
  spec,
});
const ap = (spec: unknown): string[] => authorizationPolicyProblems(object('AuthorizationPolicy', spec));

describe('AuthorizationPolicy validation', () => {
  it('accepts valid policies, including empty ones', () => {
    expect(ap({})).toEqual([]);
    expect(ap({ action: 'DENY' })).toEqual([]);
    expect(
      ap({
        selector: { matchLabels: { app: 'cart' } },
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/shop/sa/web', 'cluster.local/ns/ops/*', '*'], ipBlocks: ['10.0.0.0/8', '::1'] } }],
            to: [{ operation: { methods: ['GET'], paths: ['/api/*'], ports: ['8080'] } }],
            when: [
              { key: 'request.auth.claims[iss]', values: ['https://issuer'] },
              { key: 'destination.port', values: ['80'] },
            ],
          },
        ],
      }),
    ).toEqual([]);
  });

  it.each([
    [{ action: 'PERMIT' }, 'spec.action: unknown action "PERMIT"'],
    [{ action: 'CUSTOM', provider: { name: 'opa' } }, 'spec.action: CUSTOM (external authorization) is not supported by meshd'],
    [{ selector: { matchLabels: {} } }, 'spec.selector.matchLabels: must have at least one label'],
    [{ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }] }, 'spec.rules[0].from[0].source.ipBlocks[0]: invalid CIDR "10.0.0.0/33"'],
    [{ rules: [{ from: [{ source: { remoteIpBlocks: ['not-an-ip'] } }] }] }, 'spec.rules[0].from[0].source.remoteIpBlocks[0]: invalid IP address "not-an-ip"'],
    [{ rules: [{ from: [{ source: { principals: ['sleep'] } }] }] }, 'spec.rules[0].from[0].source.principals[0]: "sleep" is not a SPIFFE path'],
    [{ rules: [{ from: [{ source: { principals: ['spiffe://cluster.local/ns/a/sa/b'] } }] }] }, 'must be written without the spiffe:// scheme'],
    [{ rules: [{ from: [{ source: { notPrincipals: ['cluster.local/*/sa/b'] } }] }] }, 'may use * only at its start or its end'],
    [{ rules: [{ from: [{ source: {} }] }] }, 'spec.rules[0].from[0].source: must not be empty'],
    [{ rules: [{ to: [{ operation: { ports: ['http'] } }] }] }, 'spec.rules[0].to[0].operation.ports[0]: invalid port "http"'],
    [{ rules: [{ when: [{ key: 'request.colour', values: ['red'] }] }] }, 'spec.rules[0].when[0].key: unknown attribute "request.colour"'],
    [{ rules: [{ when: [{ key: 'source.ip' }] }] }, 'spec.rules[0].when[0]: values or notValues required'],
    [{ rules: [{ when: [{ key: 'source.ip', values: ['300.1.1.1'] }] }] }, 'spec.rules[0].when[0].values[0]: invalid IP address'],
    [{ rules: [{ to: [{ operation: { paths: ['/a/{*}/b'] } }] }] }, 'path template "/a/{*}/b" is not supported'],
    [{ rules: [{ frm: [] }] }, 'spec.rules[0].frm: unknown field'],
    [{ action: 'ALLOW', provider: { name: 'x' } }, 'spec.provider: only allowed with action CUSTOM'],
  ])('rejects %j', (spec, reason) => {
    const problems = ap(spec);
    expect(problems.join('; ')).toContain(reason);
  });

  it('fails closed for a rejected policy: DENY everything on the workloads it selected, or the namespace', () => {
    const bad = object('AuthorizationPolicy', { selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { ipBlocks: ['x'] } }] }] }, 'broken');
    const closed = failClosedAuthorizationPolicy(bad);
    expect(closed).toEqual({ name: 'broken', namespace: 'shop', spec: { action: 'DENY', rules: [{}], selector: { matchLabels: { app: 'cart' } } } });
    const filters = buildRbacFilters([closed], { forTCP: false }).filters;
    expect((filters[0]!.typedConfig as { rules: { action: string; policies: Record<string, unknown> } }).rules).toEqual({
      action: 'DENY',
      policies: {
        'ns[shop]-policy[broken]-rule[0]': { permissions: [{ andRules: { rules: [{ any: true }] } }], principals: [{ andIds: { ids: [{ any: true }] } }] },
      },
    });
    expect(failClosedAuthorizationPolicy(object('AuthorizationPolicy', { selector: { matchLabels: {} } })).spec.selector).toBeUndefined();
  });

  it('translates a stored policy the model marked as rejected into its stand-in, and any other as written', () => {
    const spec = { selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { ipBlocks: ['x'] } }] }] };
    const stored = object('AuthorizationPolicy', spec, 'broken');
    expect(authorizationPolicyFrom(stored).spec).toEqual(spec);
    const marked = { ...stored, metadata: { ...stored.metadata, annotations: { [failClosedAnnotation]: 'spec.rules[0]: invalid CIDR' } } };
    expect(authorizationPolicyFrom(marked)).toEqual(failClosedAuthorizationPolicy(marked));
    expect(authorizationPolicyFrom(marked).spec).toEqual({ action: 'DENY', rules: [{}], selector: { matchLabels: { app: 'cart' } } });
  });
});

describe('PeerAuthentication validation', () => {
  const pa = (spec: unknown): string[] => peerAuthenticationProblems(object('PeerAuthentication', spec));
  it('accepts modes and port-level settings with a selector', () => {
    expect(pa({ mtls: { mode: 'STRICT' } })).toEqual([]);
    expect(pa({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { '8080': { mode: 'DISABLE' } } })).toEqual([]);
  });
  it.each([
    [{ mtls: { mode: 'MAYBE' } }, 'spec.mtls.mode: "MAYBE" is not one of UNSET, DISABLE, PERMISSIVE, STRICT'],
    [{ selector: { matchLabels: {} } }, 'spec.selector.matchLabels: must have at least one label'],
    [{ portLevelMtls: { '8080': { mode: 'STRICT' } } }, 'spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS'],
    [{ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { '0': { mode: 'STRICT' } } }, 'spec.portLevelMtls.0: port must be between 1 and 65535'],
  ])('rejects %j', (spec, reason) => {
    expect(pa(spec).join('; ')).toContain(reason);
  });
});

describe('RequestAuthentication validation', () => {
  const ra = (spec: unknown): string[] => requestAuthenticationProblems(object('RequestAuthentication', spec));
  it('accepts issuer with jwks or jwksUri', () => {
    expect(
      ra({
        jwtRules: [
          { issuer: 'a', jwks: '{"keys":[]}' },
          { issuer: 'b', jwksUri: 'https://b/keys' },
        ],
      }),
    ).toEqual([]);
  });
  it.each([
    [{ jwtRules: [{ jwks: '{"keys":[]}' }] }, 'spec.jwtRules[0].issuer: required'],
    [{ jwtRules: [{ issuer: 'a', jwksUri: 'ftp://x/keys' }] }, 'must be http or https'],
    [{ jwtRules: [{ issuer: 'a', jwks: 'nope' }] }, 'spec.jwtRules[0].jwks: not valid JSON'],
    [{ jwtRules: [{ issuer: 'a', fromHeaders: [{ prefix: 'Bearer ' }] }] }, 'spec.jwtRules[0].fromHeaders[0].name: required'],
    [{ selector: { matchLabels: {} } }, 'spec.selector.matchLabels: must have at least one label'],
  ])('rejects %j', (spec, reason) => {
    expect(ra(spec).join('; ')).toContain(reason);
  });
});
