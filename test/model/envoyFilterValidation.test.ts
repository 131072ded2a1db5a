// EnvoyFilter is validated on the way into the model and at admission: each
// patch value is decoded against Envoy's protos by the type its applyTo names
// (a typed_config by its @type); one that does not decode is rejected naming
// the patch and the reason, and the other objects stay.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeshModel } from '../../src/model/meshModel.js';
import type { KubeObject } from '../../src/model/kube.js';
import { validateAdmission } from '../../src/webhooks/validation.js';
import { kindValidators } from '../../src/security/validation.js';

const envoyFilter = (name: string, spec: unknown, apiVersion = 'networking.istio.io/v1alpha3'): KubeObject => ({
  apiVersion,
  kind: 'EnvoyFilter',
  metadata: { name, namespace: 'istio-system' },
  spec,
});

function load(...objects: KubeObject[]): { stored: string[]; reasons: Record<string, string> } {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(objects.map((object) => ({ type: 'upsert' as const, object })));
  return {
    stored: model
      .list('EnvoyFilter')
      .map(({ object }) => object.metadata.name)
      .sort(),
    reasons: Object.fromEntries(model.currentRejections().map((r) => [r.name, r.reason])),
  };
}

const rateLimit = (typedConfig: Record<string, unknown>) => ({
  workloadSelector: { labels: { istio: 'ingressgateway' } },
  configPatches: [
    {
      applyTo: 'HTTP_FILTER',
      match: {
        context: 'GATEWAY',
        listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.router' } } } },
      },
      patch: { operation: 'INSERT_BEFORE', value: { name: 'envoy.filters.http.ratelimit', typed_config: typedConfig } },
    },
  ],
});
const seedsRateLimit = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  domain: 'shop-ratelimit',
  failure_mode_deny: true,
  timeout: '10s',
  rate_limit_service: {
    grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||ratelimit.istio-system.svc.cluster.local' } },
    transport_api_version: 'V3',
  },
};

describe('EnvoyFilter validation', () => {
  it("accepts the seeds' rate-limit filter and rejects one whose typed_config does not decode, naming the patch, keeping the rest", () => {
    const result = load(
      envoyFilter('filter-ratelimit', rateLimit(seedsRateLimit)),
      envoyFilter('broken', rateLimit({ ...seedsRateLimit, rate_limit_servce: {} })),
    );
    expect(result.stored).toEqual(['filter-ratelimit']);
    expect(result.reasons.broken).toBe(
      'spec.configPatches[0].patch.value: does not decode as envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter: ' +
        'typedConfig.(envoy.extensions.filters.http.ratelimit.v3.RateLimit).rate_limit_servce: unknown field "rate_limit_servce" of envoy.extensions.filters.http.ratelimit.v3.RateLimit',
    );
  });

  it("checks a MERGE value for decoding only: it is a fragment (Envoy's rules apply to the merged result, at generation)", () => {
    expect(load(envoyFilter('m', { configPatches: [{ applyTo: 'VIRTUAL_HOST', patch: { operation: 'MERGE', value: { name: 'v' } } }] })).stored).toEqual(['m']);
  });

  it('is read in networking.istio.io/v1alpha3 only', () => {
    expect(load(envoyFilter('v1', rateLimit(seedsRateLimit), 'networking.istio.io/v1')).stored).toEqual([]);
  });

  const invalid: Array<[string, unknown, string]> = [
    [
      'a cluster value with a bad enum',
      { configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: { lb_policy: 'FASTEST' } } }] },
      'spec.configPatches[0].patch.value: does not decode as envoy.config.cluster.v3.Cluster: lbPolicy: "FASTEST" is not a value of enum',
    ],
    [
      'an unknown Any type',
      {
        configPatches: [
          { applyTo: 'NETWORK_FILTER', patch: { operation: 'ADD', value: { name: 'x', typed_config: { '@type': 'type.googleapis.com/acme.Filter' } } } },
        ],
      },
      'unknown Any type "type.googleapis.com/acme.Filter"',
    ],
    [
      'a malformed duration in a route',
      { configPatches: [{ applyTo: 'HTTP_ROUTE', patch: { operation: 'MERGE', value: { route: { timeout: 'soon' } } } }] },
      'spec.configPatches[0].patch.value: does not decode as envoy.config.route.v3.Route: route.timeout: malformed duration "soon"',
    ],
    [
      'an added rate-limit filter without a domain (Envoy requires one)',
      rateLimit({ ...seedsRateLimit, domain: undefined }),
      "spec.configPatches[0].patch.value: breaks Envoy's validation rules: HttpFilter.typedConfig<RateLimit>.domain: required (min_len 1)",
    ],
    [
      'an added virtual host without domains',
      { configPatches: [{ applyTo: 'VIRTUAL_HOST', patch: { operation: 'ADD', value: { name: 'v' } } }] },
      "breaks Envoy's validation rules: VirtualHost.domains: needs at least 1 items",
    ],
    [
      'a missing value',
      { configPatches: [{ applyTo: 'LISTENER', patch: { operation: 'MERGE' } }] },
      'spec.configPatches[0].patch.value: required for operation MERGE',
    ],
    ['a missing applyTo', { configPatches: [{ patch: { operation: 'REMOVE' } }] }, 'spec.configPatches[0].applyTo: required'],
    [
      'an unknown operation',
      { configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'DELETE' } }] },
      'spec.configPatches[0].patch.operation: "DELETE" is not one of',
    ],
    [
      'a route match on a cluster patch',
      { configPatches: [{ applyTo: 'CLUSTER', match: { routeConfiguration: { portNumber: 80 } }, patch: { operation: 'REMOVE' } }] },
      'spec.configPatches[0].match: applyTo CLUSTER can only have a cluster match',
    ],
    [
      'a proxyVersion that is not RE2',
      { configPatches: [{ applyTo: 'CLUSTER', match: { proxy: { proxyVersion: '(1.2' } }, patch: { operation: 'REMOVE' } }] },
      'spec.configPatches[0].match.proxy.proxyVersion: invalid RE2 regex',
    ],
    [
      'a workloadSelector with targetRefs',
      { workloadSelector: { labels: { app: 'a' } }, targetRefs: [{ kind: 'Gateway', name: 'gw' }] },
      'spec: only one of workloadSelector or targetRefs can be set',
    ],
  ];
  for (const [what, spec, reason] of invalid) {
    it(`rejects ${what}`, () => expect(load(envoyFilter('f', spec)).reasons.f).toContain(reason));
  }

  it('is validated at admission through the kind registry', () => {
    const request = (spec: unknown) =>
      validateAdmission(
        {
          uid: 'u',
          operation: 'CREATE',
          kind: { group: 'networking.istio.io', version: 'v1alpha3', kind: 'EnvoyFilter' },
          object: { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'f', namespace: 'istio-system' }, spec },
        },
        kindValidators,
      );
    expect(request(rateLimit(seedsRateLimit)).allowed).toBe(true);
    const denied = request(rateLimit({ ...seedsRateLimit, domain: 7 }));
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toMatch(/^configuration is invalid: spec\.configPatches\[0\]\.patch\.value: does not decode as .*domain/);
  });
});
