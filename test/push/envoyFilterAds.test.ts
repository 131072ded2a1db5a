// EnvoyFilter over real ADS streams, configured from a config directory:
// adding the seeds' rate-limit filter changes what a connected gateway
// receives (the RateLimit filter just before the router), and a broken
// version of it (a typed_config that does not decode) is refused while the
// last valid version keeps serving.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { routerNode, type ReceivedResponse } from '../support/adsClient.js';
import { subscribeLikeEnvoy, type EnvoyLikeStream } from '../support/envoySubscriber.js';
import { waitFor } from '../support/captureLogger.js';
import { startFileMeshd } from '../support/filePipeline.js';

const mesh = `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  clusterIP: 10.96.0.20
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratelimit, namespace: istio-system}
spec: {clusterIP: 10.96.0.30, selector: {app: ratelimit}, ports: [{name: grpc, port: 8081}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.1.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
  - route: [{destination: {host: web}}]
`;

const rateLimitFilter = (domain: string, typedConfigExtra = '') => `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-ratelimit, namespace: istio-system}
spec:
  workloadSelector:
    labels: {istio: ingressgateway}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: ${domain}
          failure_mode_deny: true
          timeout: 10s
          rate_limit_service:
            grpc_service:
              envoy_grpc: {cluster_name: "outbound|8081||ratelimit.istio-system.svc.cluster.local"}
            transport_api_version: V3
${typedConfigExtra}`;

const ingressNode = routerNode('ingress-1', 'istio-system', { istio: 'ingressgateway' });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

type Json = Record<string, unknown>;

/** The HTTP filters of the listener's HTTP connection manager, with the rate-limit domain where there is one. */
function httpFilters(lds: ReceivedResponse, listener = '0.0.0.0_8080'): string[] {
  const body = lds.resources.find((r) => r.name === listener)?.body as
    { filterChains?: { filters: { typedConfig?: { httpFilters?: { name: string; typedConfig?: Json }[] } }[] }[] } | undefined;
  return (body?.filterChains?.[0]?.filters[0]?.typedConfig?.httpFilters ?? []).map((f) =>
    typeof f.typedConfig?.domain === 'string' ? `${f.name}(${f.typedConfig.domain})` : f.name,
  );
}

/** A router stream subscribed like Envoy to CDS and LDS; every response is ACKed. */
async function connectGateway(address: string): Promise<EnvoyLikeStream> {
  const gateway = await subscribeLikeEnvoy(address, ingressNode);
  cleanups.push(async () => gateway.client.close());
  return gateway;
}

/** The next LDS response on the stream (CDS and EDS responses in between are ACKed and skipped). */
async function nextListeners(gateway: { nextAcked: () => Promise<ReceivedResponse> }): Promise<ReceivedResponse> {
  for (;;) {
    const response = await gateway.nextAcked();
    if (response.typeUrl === TypeUrl.Listener) return response;
  }
}

describe('EnvoyFilter over ADS', () => {
  it('adding the rate-limit EnvoyFilter puts RateLimit before the router of a connected gateway; a broken version is refused and the last valid one keeps serving', async () => {
    const served = await startFileMeshd({ 'mesh.yaml': mesh });
    cleanups.push(served.stop);
    const gateway = await connectGateway(served.xdsAddress);
    expect(httpFilters(gateway.lds)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);

    await served.write('ratelimit.yaml', rateLimitFilter('shop-ratelimit'));
    const patched = await nextListeners(gateway);
    expect(httpFilters(patched)).toEqual([
      'envoy.filters.http.fault',
      'envoy.filters.http.cors',
      'envoy.filters.http.ratelimit(shop-ratelimit)',
      'envoy.filters.http.router',
    ]);

    // A version whose typed_config names a field RateLimit does not have: refused, naming the patch.
    await served.write('ratelimit.yaml', rateLimitFilter('broken-domain', '          rate_limit_servce: {}\n'));
    await waitFor(
      () =>
        served.warnings.some(
          (l) =>
            String(l.msg).startsWith('rejected invalid EnvoyFilter istio-system/filter-ratelimit: spec.configPatches[0].patch.value: does not decode as') &&
            String(l.msg).includes('rate_limit_servce'),
        ),
      'the broken EnvoyFilter to be rejected',
    );
    // A change elsewhere (a new server port) still reaches the gateway, and its listeners keep the last valid filter.
    await served.write(
      'mesh.yaml',
      mesh.replace(
        '    hosts: [shop.example.com]\n',
        '    hosts: [shop.example.com]\n  - port: {number: 9090, name: http-admin, protocol: HTTP}\n    hosts: [shop.example.com]\n',
      ),
    );
    const afterChange = await nextListeners(gateway);
    expect(afterChange.resources.map((r) => r.name).sort()).toEqual(['0.0.0.0_8080', '0.0.0.0_9090']);
    for (const listener of ['0.0.0.0_8080', '0.0.0.0_9090']) {
      expect(httpFilters(afterChange, listener)).toEqual([
        'envoy.filters.http.fault',
        'envoy.filters.http.cors',
        'envoy.filters.http.ratelimit(shop-ratelimit)',
        'envoy.filters.http.router',
      ]);
    }
    // A gateway connecting now gets the same.
    const late = await connectGateway(served.xdsAddress);
    expect(httpFilters(late.lds)).toEqual(httpFilters(afterChange));
    expect(late.lds.resources.map((r) => r.version)).toEqual(afterChange.resources.map((r) => r.version));

    // Deleting the EnvoyFilter takes the filter away again.
    await rm(path.join(served.dir, 'ratelimit.yaml'));
    const removed = await nextListeners(gateway);
    expect(httpFilters(removed)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
  });
});
