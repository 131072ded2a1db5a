import { describe, expect, it } from 'vitest';
import { validateVirtualService } from '../../src/model/validation/virtualService.js';
import { validateDestinationRule } from '../../src/model/validation/destinationRule.js';
import type { DestinationRuleSpec, VirtualServiceSpec } from '../../src/model/istio.js';

const route = [{ destination: { host: 'reviews' } }];

describe('VirtualService delegate validation', () => {
  it('accepts a root delegating an http entry and a delegate without hosts', () => {
    expect(
      validateVirtualService({
        hosts: ['reviews'],
        http: [{ match: [{ uri: { prefix: '/api' } }], timeout: '2s', delegate: { name: 'api', namespace: 'team' } }],
      }),
    ).toEqual([]);
    expect(validateVirtualService({ http: [{ route }] })).toEqual([]);
  });

  it('rejects a delegating entry that also routes or redirects', () => {
    expect(validateVirtualService({ hosts: ['r'], http: [{ delegate: { name: 'd' }, route }] })).toEqual([
      'spec.http[0].route: an http route with delegate must not also set route',
    ]);
    expect(validateVirtualService({ hosts: ['r'], http: [{ delegate: { name: 'd' }, redirect: { uri: '/x' } }] })).toEqual([
      'spec.http[0].redirect: an http route with delegate must not also set redirect',
    ]);
  });

  it('rejects a delegate with gateways, tcp or tls routes, or a delegate of its own', () => {
    const spec: VirtualServiceSpec = {
      gateways: ['mesh'],
      http: [{ delegate: { name: 'deeper' } }],
      tcp: [{ route }],
      tls: [{ match: [{ sniHosts: ['a.example.com'] }], route }],
    };
    expect(validateVirtualService(spec)).toEqual([
      'spec.gateways: a delegate VirtualService (one without hosts) must not name gateways',
      'spec.tcp: a delegate VirtualService (one without hosts) must not have tcp routes',
      'spec.tls: a delegate VirtualService (one without hosts) must not have tls routes',
      'spec.http[0].delegate: a delegate VirtualService cannot delegate again (one level only)',
      'spec.http[0]: one of route, redirect or directResponse is required',
    ]);
  });
});

describe('localityLbSetting validation', () => {
  const withLocality = (localityLbSetting: object): DestinationRuleSpec => ({ host: 'reviews', trafficPolicy: { loadBalancer: { localityLbSetting } } });

  it('accepts failoverPriority alone or with failover on non-locality labels', () => {
    expect(validateDestinationRule(withLocality({ failoverPriority: ['topology.istio.io/network', 'topology.kubernetes.io/region'] }))).toEqual([]);
    expect(validateDestinationRule(withLocality({ failoverPriority: ['topology.istio.io/network'], failover: [{ from: 'a', to: 'b' }] }))).toEqual([]);
  });

  it("rejects failover together with distribute, or with a locality label in failoverPriority (istiod's rules)", () => {
    expect(validateDestinationRule(withLocality({ failoverPriority: ['topology.kubernetes.io/zone'], failover: [{ from: 'a', to: 'b' }] }))).toEqual([
      'spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority: topology.kubernetes.io/zone cannot be used together with failover',
    ]);
    expect(validateDestinationRule(withLocality({ distribute: [{ from: 'a/*', to: { 'a/*': 100 } }], failover: [{ from: 'a', to: 'b' }] }))).toEqual([
      'spec.trafficPolicy.loadBalancer.localityLbSetting: distribute and failover cannot both be set',
    ]);
  });
});
