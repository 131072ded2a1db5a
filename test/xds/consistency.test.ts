// The go-control-plane-style consistency check over one proxy's resources (src/xds/consistency.ts).
import { describe, expect, it } from 'vitest';
import { consistencyProblems, referencedEdsNames, referencedRouteNames } from '../../src/xds/consistency.js';

const hcmType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const hcm = (routeConfigName: string) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typedConfig: { '@type': hcmType, statPrefix: 'x', rds: { routeConfigName, configSource: { ads: {} } } },
});
const tcpProxy = {
  name: 'envoy.filters.network.tcp_proxy',
  typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', cluster: 'a' },
};

const listeners = [
  // Route names in the second filter chain and in the default filter chain.
  { name: '0.0.0.0_80', filterChains: [{ filters: [tcpProxy] }, { filters: [hcm('80')] }], defaultFilterChain: { filters: [hcm('default-80')] } },
  // A proxyless gRPC client's api_listener.
  { name: 'echo.demo:7070', apiListener: { apiListener: { '@type': hcmType, rds: { routeConfigName: 'outbound|7070||echo.demo.svc.cluster.local' } } } },
  // Inline route configurations name nothing.
  { name: 'virtualInbound', filterChains: [{ filters: [{ name: 'hcm', typedConfig: { '@type': hcmType, routeConfig: { name: 'inbound|8080||' } } }] }] },
];
const clusters = [
  { name: 'outbound|80||api.shop.svc.cluster.local', type: 'EDS', edsClusterConfig: { serviceName: 'outbound|80||api.shop.svc.cluster.local' } },
  { name: 'custom-eds', type: 'EDS', edsClusterConfig: { serviceName: 'custom-service', edsConfig: { ads: {} } } },
  { name: 'no-service-name', type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } } },
  { name: 'PassthroughCluster', type: 'ORIGINAL_DST' },
  { name: 'ext-authz', type: 'STRICT_DNS', loadAssignment: { clusterName: 'ext-authz' } },
];

describe('RDS and EDS consistency of one proxy', () => {
  it('finds the route names of every HttpConnectionManager in every filter chain, the default chain and an api_listener', () => {
    expect([...referencedRouteNames(listeners)].map(([listener, names]) => [listener, [...names]])).toEqual([
      ['0.0.0.0_80', ['80', 'default-80']],
      ['echo.demo:7070', ['outbound|7070||echo.demo.svc.cluster.local']],
    ]);
  });

  it("takes an EDS cluster's service name, or its own name without one, and ignores other cluster types", () => {
    expect([...referencedEdsNames(clusters)]).toEqual([
      ['outbound|80||api.shop.svc.cluster.local', 'outbound|80||api.shop.svc.cluster.local'],
      ['custom-eds', 'custom-service'],
      ['no-service-name', 'no-service-name'],
    ]);
  });

  it('names the proxy, the referencing listener or cluster and the missing name for each unresolved reference', () => {
    const problems = consistencyProblems('sidecar~10.1.0.1~web-1.shop~shop.svc.cluster.local', {
      listeners,
      clusters,
      routes: [{ name: '80' }, { name: 'outbound|7070||echo.demo.svc.cluster.local' }],
      endpoints: [{ clusterName: 'outbound|80||api.shop.svc.cluster.local' }, { clusterName: 'custom-eds' }],
    });
    expect(problems.map(({ type, referencedBy, missing }) => ({ type, referencedBy, missing }))).toEqual([
      { type: 'RDS', referencedBy: '0.0.0.0_80', missing: 'default-80' },
      // The load assignment is looked up by the service name, not by the cluster's name.
      { type: 'EDS', referencedBy: 'custom-eds', missing: 'custom-service' },
      { type: 'EDS', referencedBy: 'no-service-name', missing: 'no-service-name' },
    ]);
    expect(problems[0]!.message).toBe(
      'proxy sidecar~10.1.0.1~web-1.shop~shop.svc.cluster.local: listener 0.0.0.0_80 names route configuration "default-80", which is not among its RDS resources',
    );
    expect(problems[1]!.message).toBe(
      'proxy sidecar~10.1.0.1~web-1.shop~shop.svc.cluster.local: EDS cluster custom-eds names load assignment "custom-service", which is not among its EDS resources',
    );
  });

  it('finds nothing when every reference resolves', () => {
    const problems = consistencyProblems('p', {
      listeners,
      clusters,
      routes: ['80', 'default-80', 'outbound|7070||echo.demo.svc.cluster.local'].map((name) => ({ name })),
      endpoints: ['outbound|80||api.shop.svc.cluster.local', 'custom-service', 'no-service-name'].map((clusterName) => ({ clusterName })),
    });
    expect(problems).toEqual([]);
  });
});
