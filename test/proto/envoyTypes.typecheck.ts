// Type-level tests of the generated Envoy shapes (src/proto/envoyTypes.generated.ts), checked by
// `tsc -p tsconfig.test.json` (part of `npm test`): each `@ts-expect-error` fails the type check when the error it
// expects goes away, i.e. when a misspelt field, enum name or `@type` stops failing `tsc`.
import type { Cluster, HttpConnectionManager, Listener, PackedAs, RouteConfiguration } from '../../src/proto/envoyTypes.generated.js';
import { buildBlackHoleCluster } from '../../src/xds/gen/common/clusters.js';
import { httpConnectionManager } from '../../src/xds/gen/common/listeners.js';
import type { defaultRoute, faultConfig } from '../../src/xds/gen/common/routes.js';
import type { virtualOutboundListener } from '../../src/xds/gen/sidecar/listeners.js';
import { tlsTransportSocket, UpstreamTlsContextTypeUrl } from '../../src/security/index.js';

export const cluster: Cluster = {
  name: 'outbound|80||a.default.svc.cluster.local',
  type: 'EDS',
  connectTimeout: { seconds: 10 },
  // @ts-expect-error misspelt field of a Cluster
  lbPolcy: 'ROUND_ROBIN',
};

export const clusterEnum: Cluster = {
  // @ts-expect-error misspelt enum name
  lbPolicy: 'ROUND_ROBBIN',
};

export const nestedMisspelling: Cluster = {
  // @ts-expect-error misspelt field of a nested message (google.protobuf.UInt32Value)
  circuitBreakers: { thresholds: [{ maxRequests: { valeu: 1 } }] },
};

export const listener: Listener = {
  name: 'virtualInbound',
  filterChains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            statPrefix: 'inbound',
            // @ts-expect-error misspelt field of the message an Any packs (typed_config)
            httpFilter: [],
          },
        },
      ],
    },
  ],
};

export const unknownAnyType: Listener = {
  filterChains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          // @ts-expect-error `@type` naming no generated message
          typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManagr' },
        },
      ],
    },
  ],
};

export const hcm: PackedAs<'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'> = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  statPrefix: 'outbound_0.0.0.0_80',
  rds: { routeConfigName: '80' },
};

export const hcmFields: HttpConnectionManager = {
  // @ts-expect-error a field of another message (Cluster) does not fit
  connectTimeout: { seconds: 1 },
};

export const routes: RouteConfiguration = {
  virtualHosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a', timeout: { seconds: '0' } } }] }],
  // @ts-expect-error a wrapper's value has the wrapped scalar's type
  maxDirectResponseBodySizeBytes: { value: true },
};

export const int64: RouteConfiguration = {
  // @ts-expect-error int64 (Duration.seconds) takes a number or a decimal string, not a boolean
  virtualHosts: [{ routes: [{ route: { timeout: { seconds: true } } }] }],
};

// The generators return these types, not Record<string, unknown>: a misspelling on their output fails too.
export function misspeltOnGeneratorOutput(): void {
  const cluster = buildBlackHoleCluster();
  // @ts-expect-error misspelt field on a generated Cluster
  cluster.conectTimeout = { seconds: 1 };
  const hcm = httpConnectionManager({ statPrefix: 'x', rds: '80', inbound: false });
  // @ts-expect-error misspelt field on a generated listener Filter
  void hcm.typedConfg;
}

export const generatedListener: ReturnType<typeof virtualOutboundListener> = {
  name: 'virtualOutbound',
  // @ts-expect-error misspelt field of the Listener the sidecar generator builds
  useOriginalDestination: { value: true },
};

export const generatedRoute: ReturnType<typeof defaultRoute> = {
  // @ts-expect-error misspelt field of the Route the route translation builds
  route: { clusterName: 'outbound|80||a.default.svc.cluster.local' },
};

export const faultTypedConfig: ReturnType<typeof faultConfig> = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  // @ts-expect-error misspelt field of a typed_config the route translation builds (HTTPFault)
  delai: { fixedDelay: { seconds: 1 } },
};

export const upstreamTls = tlsTransportSocket({
  '@type': UpstreamTlsContextTypeUrl,
  // @ts-expect-error misspelt field of the UpstreamTlsContext a transport socket carries
  sniName: 'example.com',
});
