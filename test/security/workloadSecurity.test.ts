// One workload's security from every policy in the mesh: the filters and
// chains generators insert, for sidecars and proxyless servers, checked
// inside a real Listener against Envoy's protos.
import { describe, expect, it } from 'vitest';
import {
  proxylessClusterTransportSocket,
  proxylessServerSecurity,
  securedInboundChains,
  serviceIdentities,
  workloadSecurity,
  type MeshSecurityPolicies,
} from '../../src/security/index.js';
import type { Json } from '../../src/xds/gen/common/json.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { envoyProblems } from '../support/envoyValidation.js';
import { buildServerListener } from '../../src/xds/gen/grpc/listeners.js';
import type { MeshService } from '../../src/push/services.js';

const policies: MeshSecurityPolicies = {
  peerAuthentications: [
    { name: 'default', namespace: 'istio-system', spec: { mtls: { mode: 'STRICT' } } },
    { name: 'cart', namespace: 'shop', spec: { selector: { matchLabels: { app: 'cart' } }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } } },
  ],
  authorizationPolicies: [
    { name: 'deny-admin', namespace: 'istio-system', spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] } },
    {
      name: 'web-only',
      namespace: 'shop',
      spec: { selector: { matchLabels: { app: 'cart' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }] },
    },
    { name: 'other', namespace: 'shop', spec: { selector: { matchLabels: { app: 'web' } }, rules: [{}] } },
  ],
  requestAuthentications: [{ name: 'jwt', namespace: 'shop', spec: { jwtRules: [{ issuer: 'https://issuer', jwks: '{"keys":[]}' }] } }],
};
const cart = { namespace: 'shop', labels: { app: 'cart' } };

const tcpProxy = (): Json[] => [
  {
    name: 'envoy.filters.network.tcp_proxy',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      statPrefix: 'inbound|9090||',
      cluster: 'inbound|9090||',
    },
  },
];
const hcm = (filters: readonly Json[]): Json => ({
  name: 'envoy.filters.network.http_connection_manager',
  typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    statPrefix: 'inbound_0.0.0.0_8080',
    routeConfig: {
      name: 'inbound|8080||',
      virtualHosts: [{ name: 'inbound|http|8080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }] }],
    },
    httpFilters: [
      ...filters,
      { name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
    ],
  },
});

describe('workload security', () => {
  it('collects mesh-wide and namespace policies that select the workload: jwt_authn first, then DENY, then ALLOW', () => {
    const security = workloadSecurity(policies, cart);
    expect(security.mtls.mode).toBe('STRICT');
    expect(security.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.rbac']);
    const actions = security.httpFilters.slice(1).map((f) => (f.typedConfig as { rules: { action: string; policies: Json } }).rules);
    expect(actions.map((r) => [r.action, Object.keys(r.policies)])).toEqual([
      ['DENY', ['ns[istio-system]-policy[deny-admin]-rule[0]']],
      ['ALLOW', ['ns[shop]-policy[web-only]-rule[0]']],
    ]);
    // On TCP the path-only DENY rule keeps no HTTP field: it denies every connection, never less.
    expect(security.networkFilters.map((f) => (f.typedConfig as { rules: { action: string } }).rules.action)).toEqual(['DENY', 'ALLOW']);
  });

  it('builds valid inbound chains per port mode: STRICT HTTP port, PERMISSIVE TCP port', () => {
    const security = workloadSecurity(policies, cart);
    const http = securedInboundChains(security, 8080, 'http', { name: '0.0.0.0_8080', httpConnectionManager: hcm, tcpFilters: tcpProxy });
    const tcp = securedInboundChains(security, 9090, 'tcp', { name: '0.0.0.0_9090', httpConnectionManager: hcm, tcpFilters: tcpProxy });
    expect(http.map((c) => c.name)).toEqual(['0.0.0.0_8080-mtls']);
    expect(tcp.map((c) => c.name)).toEqual(['0.0.0.0_9090-mtls', '0.0.0.0_9090-tls', '0.0.0.0_9090']);
    expect((tcp[0]!.filters as Json[]).map((f) => f.name)).toEqual([
      'envoy.filters.network.rbac',
      'envoy.filters.network.rbac',
      'envoy.filters.network.tcp_proxy',
    ]);
    const listener = { name: 'virtualInbound', address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } }, filterChains: [...http, ...tcp] };
    expect(envoyProblems(TypeUrl.Listener, listener)).toEqual([]);
  });

  it('proxyless server: mTLS only under STRICT, RBAC without jwt_authn', () => {
    const strict = proxylessServerSecurity(policies, cart, 8080);
    expect(strict.mode).toBe('STRICT');
    expect(strict.transportSocket).toBeDefined();
    expect(strict.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.rbac.DENY', 'envoy.filters.http.rbac']);
    const permissive = proxylessServerSecurity(policies, cart, 9090);
    expect(permissive.mode).toBe('PERMISSIVE');
    expect(permissive.transportSocket).toBeUndefined();
  });

  it('proxyless client: mTLS only for DestinationRule ISTIO_MUTUAL, pinned to the service identities', () => {
    const ids = serviceIdentities([{ serviceAccount: 'cart' }, { serviceAccount: 'cart' }, { serviceAccount: '' }], 'shop', 'cluster.local');
    expect(ids).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    expect(proxylessClusterTransportSocket(undefined, ids)).toBeUndefined();
    expect(proxylessClusterTransportSocket({ mode: 'DISABLE' }, ids)).toBeUndefined();
    const socket = proxylessClusterTransportSocket({ mode: 'ISTIO_MUTUAL' }, ids) as { typedConfig: { commonTlsContext: { validationContext: Json } } };
    expect(socket.typedConfig.commonTlsContext.validationContext.matchSubjectAltNames).toEqual([{ exact: 'spiffe://cluster.local/ns/shop/sa/cart' }]);
  });

  it('proxyless server listener: inbound-mtls under STRICT with DENY and ALLOW RBAC, inbound-plaintext otherwise, both valid for Envoy', () => {
    const service = { hostname: 'cart.shop.svc.cluster.local', namespace: 'shop' } as unknown as MeshService;
    const instance = { service, port: { name: 'grpc', port: 8080, protocol: 'GRPC' }, endpointPort: 8080 } as const;
    const name = 'xds.istio.io/grpc/lds/inbound/10.0.0.1:8080';
    const strict = buildServerListener(name, '10.0.0.1', instance, proxylessServerSecurity(policies, cart, 8080));
    const permissive = buildServerListener(name, '10.0.0.1', instance, proxylessServerSecurity(policies, cart, 9090));
    for (const listener of [strict, permissive]) expect(envoyProblems(TypeUrl.Listener, listener)).toEqual([]);
    const chain = (strict.filterChains as Json[])[0]!;
    expect(chain.name).toBe('inbound-mtls');
    expect(chain.transportSocket).toBeDefined();
    const filters = ((chain.filters as Json[])[0]!.typedConfig as { httpFilters: Json[] }).httpFilters.map((f) => f.name);
    expect(filters).toEqual(['envoy.filters.http.rbac.DENY', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect((permissive.filterChains as Json[])[0]!.name).toBe('inbound-plaintext');
    expect((permissive.filterChains as Json[])[0]!.transportSocket).toBeUndefined();
  });
});
