// AuthorizationPolicy → RBAC filters: istiod's names, order and semantics,
// each output checked against Envoy's protos and validation rules.
import { describe, expect, it } from 'vitest';
import { buildRbacFilters, HttpRbacTypeUrl, NetworkRbacTypeUrl, type AuthorizationPolicy, type AuthorizationPolicySpec } from '../../src/security/index.js';
import type { Json } from '../../src/xds/gen/common/json.js';
import { typedConfigProblems } from '../support/envoyTypedConfig.js';

const policy = (name: string, spec: AuthorizationPolicySpec, extra: Partial<AuthorizationPolicy> = {}): AuthorizationPolicy => ({
  name,
  namespace: 'foo',
  spec,
  ...extra,
});

function http(policies: AuthorizationPolicy[]): { filters: Json[]; skipped: { policy: string; reason: string }[] } {
  const out = buildRbacFilters(policies, { forTCP: false });
  for (const f of out.filters) expect(typedConfigProblems(f.typedConfig as Json)).toEqual([]);
  return out;
}

function tcp(policies: AuthorizationPolicy[]): { filters: Json[]; skipped: { policy: string; reason: string }[] } {
  const out = buildRbacFilters(policies, { forTCP: true });
  for (const f of out.filters) expect(typedConfigProblems(f.typedConfig as Json)).toEqual([]);
  return out;
}

const rulesOf = (filter: Json): { action: string; policies: Record<string, Json> } =>
  (filter.typedConfig as { rules: { action: string; policies: Record<string, Json> } }).rules;

describe('AuthorizationPolicy → HTTP RBAC', () => {
  it('names each rule ns[NS]-policy[NAME]-rule[N] and translates principals, namespaces, methods and paths', () => {
    const { filters } = http([
      policy('httpbin', {
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/foo/sa/sleep', 'cluster.local/ns/bar/*', '*/sa/admin'], namespaces: ['prod-*'] } }],
            to: [{ operation: { methods: ['GET'], paths: ['/exact', '/api/*', '*.png'], ports: ['8080'] } }],
          },
          { to: [{ operation: { notPaths: ['/private/*'] } }] },
        ],
      }),
    ]);
    expect(filters).toHaveLength(1);
    expect(filters[0]!.name).toBe('envoy.filters.http.rbac');
    const rules = rulesOf(filters[0]!);
    expect(rules.action).toBe('ALLOW');
    expect(Object.keys(rules.policies)).toEqual(['ns[foo]-policy[httpbin]-rule[0]', 'ns[foo]-policy[httpbin]-rule[1]']);
    expect(rules.policies['ns[foo]-policy[httpbin]-rule[0]']).toEqual({
      permissions: [
        {
          andRules: {
            rules: [
              { orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }] } },
              {
                orRules: {
                  rules: [{ urlPath: { path: { exact: '/exact' } } }, { urlPath: { path: { prefix: '/api/' } } }, { urlPath: { path: { suffix: '.png' } } }],
                },
              },
              { orRules: { rules: [{ destinationPort: 8080 }] } },
            ],
          },
        },
      ],
      principals: [
        {
          andIds: {
            ids: [
              {
                orIds: {
                  ids: [
                    { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/foo/sa/sleep' } } },
                    { authenticated: { principalName: { prefix: 'spiffe://cluster.local/ns/bar/' } } },
                    { authenticated: { principalName: { safeRegex: { regex: 'spiffe://.*/sa/admin' } } } },
                  ],
                },
              },
              { orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/prod-.*/.*' } } } }] } },
            ],
          },
        },
      ],
    });
    expect(rules.policies['ns[foo]-policy[httpbin]-rule[1]']).toEqual({
      permissions: [{ andRules: { rules: [{ notRule: { orRules: { rules: [{ urlPath: { path: { prefix: '/private/' } } }] } } }] } }],
      principals: [{ andIds: { ids: [{ any: true }] } }],
    });
  });

  it('ALLOW with no rules allows nothing; a rule {} matches everything; DENY with no rules denies nothing', () => {
    const never = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };
    const allowNothing = rulesOf(http([policy('allow-nothing', { action: 'ALLOW' })]).filters[0]!);
    expect(allowNothing).toEqual({ action: 'ALLOW', policies: { 'ns[foo]-policy[allow-nothing]-rule[0]': never } });
    const allowAll = rulesOf(http([policy('allow-all', { rules: [{}] })]).filters[0]!);
    expect(allowAll.policies['ns[foo]-policy[allow-all]-rule[0]']).toEqual({
      permissions: [{ andRules: { rules: [{ any: true }] } }],
      principals: [{ andIds: { ids: [{ any: true }] } }],
    });
    const denyNothing = rulesOf(http([policy('deny-nothing', { action: 'DENY' })]).filters[0]!);
    expect(denyNothing).toEqual({ action: 'DENY', policies: { 'ns[foo]-policy[deny-nothing]-rule[0]': never } });
  });

  it('evaluates AUDIT (as LOG), then DENY, then ALLOW, each in its own filter', () => {
    const { filters } = http([
      policy('a-allow', { action: 'ALLOW', rules: [{}] }),
      policy('b-deny', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
      policy('c-audit', { action: 'AUDIT', rules: [{}] }),
    ]);
    expect(filters.map((f) => rulesOf(f).action)).toEqual(['LOG', 'DENY', 'ALLOW']);
    expect(Object.keys(rulesOf(filters[1]!).policies)).toEqual(['ns[foo]-policy[b-deny]-rule[0]']);
  });

  it('translates every when key istiod supports', () => {
    const { filters, skipped } = http([
      policy('conditions', {
        rules: [
          {
            when: [
              { key: 'request.headers[X-Tenant]', values: ['acme', 'beta-*'] },
              { key: 'request.auth.claims[groups]', values: ['admins'] },
              { key: 'request.auth.claims[nested][role]', notValues: ['guest'] },
              { key: 'request.auth.principal', values: ['https://issuer.example/alice'] },
              { key: 'request.auth.audiences', values: ['api'] },
              { key: 'request.auth.presenter', values: ['web'] },
              { key: 'source.ip', values: ['10.0.0.0/8'] },
              { key: 'remote.ip', notValues: ['192.168.1.1'] },
              { key: 'source.namespace', values: ['foo'] },
              { key: 'source.principal', values: ['cluster.local/ns/foo/sa/a'] },
              { key: 'destination.ip', values: ['10.1.2.3'] },
              { key: 'destination.port', values: ['9080'] },
              { key: 'connection.sni', values: ['*.example.com'] },
              { key: 'experimental.envoy.filters.network.mysql_proxy[db.table]', values: ['[update]'] },
            ],
          },
        ],
      }),
    ]);
    expect(skipped).toEqual([]);
    const p = rulesOf(filters[0]!).policies['ns[foo]-policy[conditions]-rule[0]'] as { permissions: Json[]; principals: Json[] };
    const permissionRules = (p.permissions[0] as { andRules: { rules: Json[] } }).andRules.rules;
    expect(permissionRules).toEqual([
      { orRules: { rules: [{ destinationIp: { addressPrefix: '10.1.2.3', prefixLen: { value: 32 } } }] } },
      { orRules: { rules: [{ destinationPort: 9080 }] } },
      { orRules: { rules: [{ requestedServerName: { suffix: '.example.com' } }] } },
      {
        orRules: {
          rules: [
            {
              metadata: {
                filter: 'envoy.filters.network.mysql_proxy',
                path: [{ key: 'db.table' }],
                value: { listMatch: { oneOf: { stringMatch: { exact: 'update' } } } },
              },
            },
          ],
        },
      },
    ]);
    const ids = (p.principals[0] as { andIds: { ids: Json[] } }).andIds.ids;
    expect(ids[0]).toEqual({
      orIds: {
        ids: [
          { header: { name: 'X-Tenant', stringMatch: { safeRegex: { regex: '^acme$|^acme,.*|.*,acme,.*|.*,acme$' } } } },
          { header: { name: 'X-Tenant', stringMatch: { safeRegex: { regex: '^beta-.*$|^beta-.*,.*|.*,beta-.*,.*|.*,beta-.*$' } } } },
        ],
      },
    });
    expect(ids[2]).toEqual({
      notId: {
        metadata: {
          filter: 'envoy.filters.http.jwt_authn',
          path: [{ key: 'payload' }, { key: 'nested' }, { key: 'role' }],
          value: { orMatch: { valueMatchers: [{ listMatch: { oneOf: { stringMatch: { exact: 'guest' } } } }, { stringMatch: { exact: 'guest' } }] } },
        },
      },
    });
    expect(ids[3]).toEqual({
      andIds: {
        ids: [
          {
            metadata: {
              filter: 'envoy.filters.http.jwt_authn',
              path: [{ key: 'payload' }, { key: 'iss' }],
              value: { stringMatch: { exact: 'https://issuer.example' } },
            },
          },
          { metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: 'sub' }], value: { stringMatch: { exact: 'alice' } } } },
        ],
      },
    });
    expect(ids[6]).toEqual({ orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: { value: 8 } } }] } });
    expect(ids[7]).toEqual({ notId: { orIds: { ids: [{ remoteIp: { addressPrefix: '192.168.1.1', prefixLen: { value: 32 } } }] } } });
    expect(ids[8]).toEqual({ orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/foo/.*' } } } }] } });
  });

  it('translates from.source fields in istiod order: principals, service accounts, request principals, namespaces, remote IPs, IPs', () => {
    const { filters } = http([
      policy('sources', {
        rules: [
          {
            from: [
              {
                source: {
                  ipBlocks: ['1.2.3.4'],
                  remoteIpBlocks: ['5.6.0.0/16'],
                  namespaces: ['ns'],
                  requestPrincipals: ['*'],
                  principals: ['*'],
                  serviceAccounts: ['other/sa1', 'sa2'],
                },
              },
              { source: { notNamespaces: ['kube-system'] } },
            ],
          },
        ],
      }),
    ]);
    const p = rulesOf(filters[0]!).policies['ns[foo]-policy[sources]-rule[0]'] as { principals: { andIds: { ids: Json[] } }[] };
    expect(p.principals).toHaveLength(2);
    const ids = p.principals[0]!.andIds.ids;
    const firstMatcher = (id: Json): string => Object.keys(id.orIds ? (id.orIds as { ids: Json[] }).ids[0]! : id)[0]!;
    expect(ids.map(firstMatcher)).toEqual(['authenticated', 'authenticated', 'andIds', 'authenticated', 'remoteIp', 'directRemoteIp']);
    expect((ids[0]!.orIds as { ids: Json[] }).ids[0]).toEqual({ authenticated: { principalName: { safeRegex: { regex: '.+' } } } });
    expect((ids[1]!.orIds as { ids: Json[] }).ids).toEqual([
      { authenticated: { principalName: { safeRegex: { regex: 'spiffe://.+/ns/other/(.+/|)sa/sa1(/.+)?' } } } },
      { authenticated: { principalName: { safeRegex: { regex: 'spiffe://.+/ns/foo/(.+/|)sa/sa2(/.+)?' } } } },
    ]);
    expect(p.principals[1]!.andIds.ids).toEqual([
      { notId: { orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/kube-system/.*' } } } }] } } },
    ]);
  });

  it('drops an ALLOW rule it cannot translate (fewer requests allowed) but keeps a DENY rule without the bad value', () => {
    const bad = { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/99', '10.1.0.0/16'] } }] }] };
    const allow = http([policy('bad-allow', { action: 'ALLOW', ...bad })]);
    expect(rulesOf(allow.filters[0]!)).toEqual({ action: 'ALLOW', policies: {} });
    expect(allow.skipped).toEqual([{ policy: 'ns[foo]-policy[bad-allow]-rule[0]', reason: expect.stringContaining('10.0.0.0/99') }]);
    const deny = http([policy('bad-deny', { action: 'DENY', ...bad })]);
    expect(rulesOf(deny.filters[0]!).policies['ns[foo]-policy[bad-deny]-rule[0]']).toEqual({
      permissions: [{ andRules: { rules: [{ any: true }] } }],
      principals: [{ andIds: { ids: [{ orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.1.0.0', prefixLen: { value: 16 } } }] } }] } }],
    });
  });

  it('enforces a CUSTOM policy (unsupported) as DENY of what it matches, and dry-run policies as shadow rules', () => {
    const { filters } = http([
      policy('ext', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] }),
      policy('trial', { action: 'DENY', rules: [{}] }, { annotations: { 'istio.io/dry-run': 'true' } }),
    ]);
    expect(filters).toHaveLength(1);
    const config = filters[0]!.typedConfig as Json;
    expect(Object.keys((config.rules as { policies: Json }).policies)).toEqual(['ns[foo]-policy[ext]-rule[0]-unsupported-custom-action']);
    expect(config.shadowRules).toEqual({ action: 'DENY', policies: { 'ns[foo]-policy[trial]-rule[0]': expect.any(Object) } });
    expect(config.shadowRulesStatPrefix).toBe('istio_dry_run_deny_');
  });
});

describe('AuthorizationPolicy → network RBAC on TCP chains', () => {
  it('uses the network filter with stat prefix tcp.', () => {
    const { filters } = tcp([
      policy('tcp-allow', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/db-client'] } }], to: [{ operation: { ports: ['5432'] } }] }] }),
    ]);
    expect(filters[0]!.name).toBe('envoy.filters.network.rbac');
    expect((filters[0]!.typedConfig as Json)['@type']).toBe(NetworkRbacTypeUrl);
    expect((filters[0]!.typedConfig as Json).statPrefix).toBe('tcp.');
    expect(Object.keys(rulesOf(filters[0]!).policies)).toEqual(['ns[foo]-policy[tcp-allow]-rule[0]']);
  });

  it('drops an ALLOW rule with HTTP-only fields, and keeps a DENY rule with only its TCP fields: never widening access', () => {
    const rule = { to: [{ operation: { methods: ['POST'], ports: ['3306'] } }] };
    const allow = tcp([policy('http-allow', { action: 'ALLOW', rules: [rule] })]);
    expect(rulesOf(allow.filters[0]!)).toEqual({ action: 'ALLOW', policies: {} });
    expect(allow.skipped[0]!.reason).toContain('HTTP only');
    const deny = tcp([policy('http-deny', { action: 'DENY', rules: [rule, { when: [{ key: 'request.headers[x]', values: ['y'] }] }] })]);
    const policies = rulesOf(deny.filters[0]!).policies;
    expect(policies['ns[foo]-policy[http-deny]-rule[0]']!.permissions).toEqual([
      { andRules: { rules: [{ orRules: { rules: [{ destinationPort: 3306 }] } }] } },
    ]);
    expect(policies['ns[foo]-policy[http-deny]-rule[1]']!.principals).toEqual([{ andIds: { ids: [{ any: true }] } }]);
  });

  it('keeps HTTP typed config out of TCP filters', () => {
    const out = buildRbacFilters([policy('x', { rules: [{}] })], { forTCP: false });
    expect((out.filters[0]!.typedConfig as Json)['@type']).toBe(HttpRbacTypeUrl);
    expect((out.filters[0]!.typedConfig as Json).statPrefix).toBeUndefined();
  });
});
