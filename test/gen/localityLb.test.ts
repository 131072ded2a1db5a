import { describe, expect, it } from 'vitest';
import type { LocalityLbSetting } from '../../src/model/istio.js';
import type { Locality, MeshEndpoint } from '../../src/push/services.js';
import { buildLocalityLbEndpoints, withTopologyLabels, type LocalityLbInput } from '../../src/xds/gen/common/endpoints.js';

const locality = (text: string): Locality => {
  const [region = '', zone = '', subZone = ''] = text.split('/');
  return { region, zone, subZone };
};

const endpoint = (address: string, where: string, labels: Record<string, string> = {}): MeshEndpoint => ({
  address,
  port: 8080,
  labels,
  locality: locality(where),
  health: 'HEALTHY',
  serviceAccount: 'default',
  weight: 1,
  workload: `app/${address}`,
});

const proxyLocality = locality('us-east/us-east-1a/rack1');
const input = (setting: LocalityLbSetting, labels: Record<string, string> = { app: 'client', net: 'net1' }, failoverEnabled = true): LocalityLbInput => ({
  setting,
  failoverEnabled,
  proxyLocality,
  proxyLabels: withTopologyLabels(labels, proxyLocality, 'Kubernetes'),
  clusterId: 'Kubernetes',
});

/** address → priority, read from the built LocalityLbEndpoints. */
function priorities(groups: Record<string, unknown>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of groups) {
    for (const lb of g.lbEndpoints as { endpoint: { address: { socketAddress: { address: string } } } }[]) {
      out[lb.endpoint.address.socketAddress.address] = (g.priority as number | undefined) ?? 0;
    }
  }
  return out;
}

describe('failoverPriority', () => {
  const endpoints = [
    endpoint('10.0.0.1', 'us-east/us-east-1a/rack2', { net: 'net1' }),
    endpoint('10.0.0.2', 'us-east/us-east-1b/rack1', { net: 'net1' }),
    endpoint('10.0.0.3', 'us-west/us-west-1a/rack1', { net: 'net1' }),
    endpoint('10.0.0.4', 'us-west/us-west-1a/rack1', { net: 'net2' }),
  ];

  it('gives n - j to an endpoint first differing from the proxy on the j-th of n labels, 0 when all match', () => {
    const setting = { failoverPriority: ['net', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'] };
    expect(priorities(buildLocalityLbEndpoints(endpoints, undefined, input(setting)))).toEqual({ '10.0.0.1': 0, '10.0.0.2': 1, '10.0.0.3': 2, '10.0.0.4': 3 });
  });

  it('renumbers the levels in use without gaps and splits a locality by priority, each part weighing its endpoints', () => {
    const setting = { failoverPriority: ['net', 'topology.kubernetes.io/region'] };
    const groups = buildLocalityLbEndpoints(endpoints, undefined, input(setting));
    // Levels 0 (same net and region), 1 (other region), 2 (other net): us-west splits in two.
    expect(priorities(groups)).toEqual({ '10.0.0.1': 0, '10.0.0.2': 0, '10.0.0.3': 1, '10.0.0.4': 2 });
    const west = groups.filter((g) => (g.locality as Locality).region === 'us-west');
    expect(west.map((g) => [g.priority, g.loadBalancingWeight])).toEqual([
      [1, { value: 1 }],
      [2, { value: 1 }],
    ]);
  });

  it('compares a `label=value` entry with the value instead of the proxy label', () => {
    const setting = { failoverPriority: ['net=net2'] };
    expect(priorities(buildLocalityLbEndpoints(endpoints, undefined, input(setting)))).toEqual({ '10.0.0.1': 1, '10.0.0.2': 1, '10.0.0.3': 1, '10.0.0.4': 0 });
  });

  it('orders each failoverPriority level by locality when failover is set too', () => {
    const setting = { failoverPriority: ['net'], failover: [{ from: 'us-east', to: 'us-west' }] };
    const more = [...endpoints, endpoint('10.0.0.5', 'eu-west/eu-west-1a/rack1', { net: 'net1' })];
    // net1: same zone (0), same region (1), failover region (3), other region (4); net2 after all of them.
    expect(priorities(buildLocalityLbEndpoints(more, undefined, input(setting)))).toEqual({
      '10.0.0.1': 0,
      '10.0.0.2': 1,
      '10.0.0.3': 2,
      '10.0.0.5': 3,
      '10.0.0.4': 4,
    });
  });

  it('sets no priorities without outlier detection, nor when locality load balancing is disabled', () => {
    const setting = { failoverPriority: ['net'] };
    expect(Object.values(priorities(buildLocalityLbEndpoints(endpoints, undefined, input(setting, undefined, false))))).toEqual([0, 0, 0, 0]);
    expect(Object.values(priorities(buildLocalityLbEndpoints(endpoints, undefined, input({ ...setting, enabled: false }))))).toEqual([0, 0, 0, 0]);
  });

  it('falls back to locality failover without failoverPriority', () => {
    // Same zone other subzone, other zone, other region: levels 1, 2, 3 renumbered from 0.
    expect(priorities(buildLocalityLbEndpoints(endpoints, undefined, input({})))).toEqual({ '10.0.0.1': 0, '10.0.0.2': 1, '10.0.0.3': 2, '10.0.0.4': 2 });
  });
});

describe('topology labels', () => {
  it("adds istiod's region, zone, subzone, cluster and network labels, keeping a network label already set", () => {
    expect(withTopologyLabels({ app: 'a', 'topology.istio.io/network': 'mine' }, locality('r/z/s'), 'c1', 'net9')).toEqual({
      app: 'a',
      'topology.kubernetes.io/region': 'r',
      'topology.kubernetes.io/zone': 'z',
      'topology.istio.io/subzone': 's',
      'topology.istio.io/cluster': 'c1',
      'topology.istio.io/network': 'mine',
    });
  });
});
