// gRPC LDS. Client listeners are api_listeners: an HttpConnectionManager
// that fetches its routes by RDS and runs istiod's gRPC filters (fault, then
// router). Server listeners (xDS-enabled gRPC servers) carry one filter chain
// whose inline route only marks requests as non-forwarding: `inbound-mtls`
// (xDS credentials, client certificate required) under STRICT, otherwise
// `inbound-plaintext`, with the workload's DENY and ALLOW RBAC filters
// before the router.
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import type { FilterChain, HttpFilter, Listener, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { socketAddress } from '../common/listeners.js';
import { adsConfigSource, filterNames, outboundClusterName, typeUrls } from '../common/names.js';
import { joinHostPort } from './names.js';
import type { ServiceInstance } from './serviceInstances.js';
import type { ProxylessServerSecurity } from '../../../security/index.js';

const faultFilter = (): HttpFilter => ({ name: filterNames.fault, typedConfig: { '@type': typeUrls.fault } });
const routerFilter = (): HttpFilter => ({ name: filterNames.router, typedConfig: { '@type': typeUrls.router } });

/** The listener a client gets for `requestedHost:PORT`; its RDS name is the service's default cluster name, as istiod names it. */
export function buildClientListener(requestedHost: string, service: MeshService, port: MeshServicePort): Listener {
  const name = joinHostPort(requestedHost, port.port);
  return {
    name,
    address: socketAddress(service.addresses[0] ?? '0.0.0.0', port.port),
    apiListener: {
      apiListener: {
        '@type': typeUrls.httpConnectionManager,
        // gRPC ignores the stat prefix; Envoy's validation rules require one.
        statPrefix: name,
        rds: { configSource: adsConfigSource(), routeConfigName: outboundClusterName(port.port, '', service.hostname) },
        httpFilters: [faultFilter(), routerFilter()],
      },
    },
  };
}

/** `xds.istio.io/grpc/lds/inbound/IP:PORT` for a server on a port one of the workload's service instances serves. */
export function buildServerListener(name: string, address: string, instance: ServiceInstance, security?: ProxylessServerSecurity): Listener {
  const target = { service: instance.service, port: instance.port, targetPort: instance.endpointPort };
  const routeConfig: RouteConfiguration = {
    name: 'inbound',
    virtualHosts: [
      {
        name: `inbound|grpc|${target.targetPort}`,
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, nonForwardingAction: {}, decorator: { operation: `${target.service.hostname}:${target.port.port}/*` } }],
      },
    ],
  };
  const suffix = security?.transportSocket ? 'mtls' : 'plaintext';
  const chain: FilterChain = {
    name: `inbound-${suffix}`,
    filters: [
      {
        name: `inbound-hcm${suffix}`,
        typedConfig: {
          '@type': typeUrls.httpConnectionManager,
          // The mTLS chain's prefix differs on purpose: grpc-js-xds compares a new listener with the
          // current one by filter bytes and wrongly ignores a transport socket that appears, so a
          // plaintext → mTLS change must also change these bytes to take effect.
          statPrefix: `inbound_${security?.transportSocket ? 'mtls_' : ''}${joinHostPort(address, target.targetPort)}`,
          routeConfig,
          httpFilters: [...(security?.httpFilters ?? []), routerFilter()],
        },
      },
    ],
  };
  if (security?.transportSocket) chain.transportSocket = security.transportSocket;
  return { name, address: socketAddress(address, target.targetPort), filterChains: [chain] };
}
