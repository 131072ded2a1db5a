// istiod's resource names and well-known constants.
import { sharedMessage } from '../../../proto/jsonEncoder.js';
import type { ConfigSource } from '../../../proto/envoyTypes.generated.js';

export const BlackHoleCluster = 'BlackHoleCluster';
export const PassthroughCluster = 'PassthroughCluster';
export const InboundPassthroughCluster = 'InboundPassthroughCluster';
export const VirtualOutboundListener = 'virtualOutbound';
export const VirtualInboundListener = 'virtualInbound';
export const VirtualOutboundPort = 15001;
export const VirtualInboundPort = 15006;
/** Source address inbound clusters bind to so iptables does not loop traffic back (istiod's InboundPassthroughBindIpv4). */
export const InboundPassthroughBindIpv4 = '127.0.0.6';
/** Mesh default connectTimeout. */
export const DefaultConnectTimeoutSeconds = 10;
/** Mesh default dnsRefreshRate. */
export const DefaultDnsRefreshRateSeconds = 60;
export const MaxUint32 = 4294967295;

/** `outbound|PORT|SUBSET|FQDN` */
export function outboundClusterName(port: number, subset: string, hostname: string): string {
  return `outbound|${port}|${subset}|${hostname}`;
}

/** `inbound|PORT||` */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** `outbound_.PORT_.SUBSET_.FQDN`: the DNS SRV form an AUTO_PASSTHROUGH gateway matches by SNI and names its SNI-DNAT clusters after. */
export function sniDnatClusterName(port: number, subset: string, hostname: string): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

/** The outbound cluster an SNI-DNAT cluster name stands for, or undefined for any other name. */
export function outboundNameOfSniDnat(name: string): string | undefined {
  const m = /^outbound_\.(\d+)_\.([^_]*)_\.(.+)$/.exec(name);
  return m ? outboundClusterName(Number(m[1]), m[2]!, m[3]!) : undefined;
}

export interface ParsedClusterName {
  direction: 'outbound' | 'inbound';
  port: number;
  subset: string;
  hostname: string;
}

export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'outbound' && parts[0] !== 'inbound')) return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port)) return undefined;
  return { direction: parts[0], port, subset: parts[2]!, hostname: parts[3]! };
}

/** istiod's alt_stat_name: the cluster name with a trailing `;` delimiter. */
export function delimitedStatsPrefix(name: string): string {
  return `${name};`;
}

export const typeUrls = {
  httpConnectionManager: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  originalDst: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  upstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  previousHosts: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  previousPriorities: 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
} as const;

export const filterNames = {
  httpConnectionManager: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  router: 'envoy.filters.http.router',
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
  originalDst: 'envoy.filters.listener.original_dst',
  tlsInspector: 'envoy.filters.listener.tls_inspector',
  httpInspector: 'envoy.filters.listener.http_inspector',
} as const;

/** The ADS config source every EDS cluster and RDS listener points at. */
const adsSource = sharedMessage<ConfigSource>({ ads: {}, initialFetchTimeout: { seconds: 0 }, resourceApiVersion: 'V3' });

export function adsConfigSource(): ConfigSource {
  return adsSource;
}
