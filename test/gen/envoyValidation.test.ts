// The checker the golden tests rely on must reject what Envoy would reject.
import { describe, expect, it } from 'vitest';
import { envoyProblems } from '../support/envoyValidation.js';
import { TypeUrl } from '../../src/xds/resource.js';

const cluster = (extra: Record<string, unknown>) => ({ name: 'outbound|80||a.b.svc.cluster.local', type: 'EDS', ...extra });

describe('envoyValidation', () => {
  it('accepts a well-formed cluster', () => {
    expect(envoyProblems(TypeUrl.Cluster, cluster({ connectTimeout: { seconds: 10 }, lbPolicy: 'LEAST_REQUEST' }))).toEqual([]);
  });

  it('reports a misspelled field that protobufjs would silently drop', () => {
    expect(envoyProblems(TypeUrl.Cluster, cluster({ connectTimeOut: { seconds: 1 } }))).toEqual([
      'Cluster.connectTimeOut: unknown field of envoy.config.cluster.v3.Cluster',
    ]);
  });

  it('reports unknown fields inside typed Any configs', () => {
    const listener = {
      name: 'l',
      address: { socketAddress: { address: '0.0.0.0', portValue: 80 } },
      filterChains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.tcp_proxy',
              typedConfig: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                statPrefix: 's',
                cluster: 'c',
                clusterName: 'x',
              },
            },
          ],
        },
      ],
    };
    expect(envoyProblems(TypeUrl.Listener, listener)).toEqual([
      'Listener.filterChains[0].filters[0].typedConfig<TcpProxy>.clusterName: unknown field of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    ]);
  });

  it('checks protoc-gen-validate rules: lengths, ranges, durations, enums, required oneofs', () => {
    expect(envoyProblems(TypeUrl.Cluster, { type: 'EDS', connectTimeout: { seconds: 0 }, lbPolicy: 'FASTEST' })).toEqual(
      expect.arrayContaining([
        'Cluster.name: required (min_len 1)',
        'Cluster.connectTimeout: duration must be > {}',
        'Cluster.lbPolicy: "FASTEST" is not a value of LbPolicy',
      ]),
    );
    const route = { name: '80', virtualHosts: [{ name: 'v', domains: [], routes: [{ match: { prefix: '/' }, route: {} }] }] };
    expect(envoyProblems(TypeUrl.RouteConfiguration, route)).toEqual(
      expect.arrayContaining([
        'RouteConfiguration.virtualHosts[0].domains: 0 items < min_items 1',
        'RouteConfiguration.virtualHosts[0].routes[0].route: oneof clusterSpecifier is required',
      ]),
    );
    const assignment = {
      clusterName: 'c',
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '1.2.3.4', portValue: 70000 } } } }] }],
    };
    expect(envoyProblems(TypeUrl.ClusterLoadAssignment, assignment)).toEqual([
      'ClusterLoadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue: 70000 must be <= 65535',
    ]);
  });

  it('compiles regexes with RE2 semantics', () => {
    const route = {
      name: '80',
      virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { safeRegex: { regex: '(?<=a)b' } }, route: { cluster: 'c' } }] }],
    };
    expect(envoyProblems(TypeUrl.RouteConfiguration, route)[0]).toMatch(/routes\[0\]\.match\.safeRegex\.regex: not an RE2 regex/);
  });
});
