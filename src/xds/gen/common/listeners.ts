// Network filter builders shared by listener generators: the HTTP connection
// manager (RDS or inline routes) and tcp_proxy (single or weighted clusters).
import { adsConfigSource, filterNames, typeUrls } from './names.js';
import type { HcmTelemetry } from './telemetry.js';
import type { Address, Filter, HttpConnectionManager, HttpFilter, PackedAs, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';

/**
 * HTTP filters in istiod's order (security, then fault before cors, then
 * Telemetry's stats filters, then the router); other Istio-proxy-only filters
 * (metadata exchange) are left out.
 */
export function httpFilters(
  withFaultAndCors: boolean,
  securityFilters: readonly HttpFilter[] = [],
  telemetryFilters: readonly HttpFilter[] = [],
): HttpFilter[] {
  const filters: HttpFilter[] = [...securityFilters];
  if (withFaultAndCors) {
    filters.push({ name: filterNames.fault, typedConfig: { '@type': typeUrls.fault } });
    filters.push({ name: filterNames.cors, typedConfig: { '@type': typeUrls.cors } });
  }
  filters.push(...telemetryFilters);
  filters.push({ name: filterNames.router, typedConfig: { '@type': typeUrls.router } });
  return filters;
}

export interface HttpConnectionManagerInput {
  statPrefix: string;
  /** RDS route configuration name, or an inline route configuration. */
  rds?: string;
  routeConfig?: RouteConfiguration;
  inbound: boolean;
  /** jwt_authn and RBAC filters (inbound), run before everything else. */
  securityFilters?: readonly HttpFilter[];
  /** Tracing, access logs and stats filters from Telemetry (see telemetry.ts). */
  telemetry?: HcmTelemetry;
  /** A gateway's edge settings (istiod's gateway connection manager): the client address is the remote peer, XFCC is sanitized and set. */
  gateway?: boolean;
}

export function httpConnectionManager(input: HttpConnectionManagerInput): Filter {
  const hcm: PackedAs<typeof typeUrls.httpConnectionManager> = { '@type': typeUrls.httpConnectionManager, statPrefix: input.statPrefix };
  if (input.rds !== undefined) hcm.rds = { configSource: adsConfigSource(), routeConfigName: input.rds };
  else hcm.routeConfig = input.routeConfig;
  hcm.httpFilters = httpFilters(!input.inbound, input.securityFilters, input.telemetry?.statsFilters);
  hcm.useRemoteAddress = { value: false };
  hcm.streamIdleTimeout = { seconds: 0 };
  hcm.normalizePath = { value: true };
  hcm.pathWithEscapedSlashesAction = 'KEEP_UNCHANGED';
  hcm.upgradeConfigs = [{ upgradeType: 'websocket' }];
  if (input.inbound) hcm.forwardClientCertDetails = 'APPEND_FORWARD';
  if (input.telemetry?.tracing) hcm.tracing = input.telemetry.tracing;
  if (input.telemetry?.requestIdExtension) hcm.requestIdExtension = input.telemetry.requestIdExtension;
  if (input.telemetry?.accessLog) hcm.accessLog = input.telemetry.accessLog;
  if (input.gateway) Object.assign(hcm, gatewayConnectionSettings);
  return { name: filterNames.httpConnectionManager, typedConfig: hcm };
}

/** What istiod sets on a gateway's HTTP connection managers (with the mesh's default gateway topology). */
const gatewayConnectionSettings: HttpConnectionManager = {
  useRemoteAddress: { value: true },
  forwardClientCertDetails: 'SANITIZE_SET',
  setCurrentClientCertDetails: { subject: { value: true }, cert: true, dns: true, uri: true },
  serverName: 'istio-envoy',
  httpProtocolOptions: {},
};

export function tcpProxy(statPrefix: string, cluster: string | { name: string; weight: number }[]): Filter {
  const config: PackedAs<typeof typeUrls.tcpProxy> = { '@type': typeUrls.tcpProxy, statPrefix };
  if (typeof cluster === 'string') config.cluster = cluster;
  else config.weightedClusters = { clusters: cluster };
  return { name: filterNames.tcpProxy, typedConfig: config };
}

export function socketAddress(address: string, port: number): Address {
  return { socketAddress: { address, portValue: port } };
}
