// Cluster builders shared by the sidecar, gateway and gRPC generators:
// outbound service/subset clusters with DestinationRule traffic policy,
// inbound clusters, and istiod's BlackHole / Passthrough clusters.
import type { ClientTLSSettings, ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection } from '../../../model/istio.js';
import { socketAddress } from './listeners.js';
import { toProtoDuration } from '../../../model/duration.js';
import { isHttp2Protocol } from '../../../model/protocol.js';
import type { MeshEndpoint, MeshService, MeshServicePort } from '../../../push/services.js';
import type { ConfigEntry } from '../../../push/pushContext.js';
import type { DestinationRuleSpec } from '../../../model/istio.js';
import { buildLocalityLbEndpoints } from './endpoints.js';
import type { EffectiveTrafficPolicy } from './trafficPolicy.js';
import {
  BlackHoleCluster,
  DefaultConnectTimeoutSeconds,
  DefaultDnsRefreshRateSeconds,
  InboundPassthroughBindIpv4,
  InboundPassthroughCluster,
  MaxUint32,
  PassthroughCluster,
  adsConfigSource,
  delimitedStatsPrefix,
  inboundClusterName,
  typeUrls,
} from './names.js';
import { toStructValue, istioConfigPath } from './struct.js';
import { sharedMessage } from '../../../proto/jsonEncoder.js';
import { tlsTransportSocket, upstreamTransport, userUpstreamTlsContext, type UpstreamTlsTarget } from '../../../security/index.js';
import type {
  CircuitBreakers,
  Cluster,
  CommonHttpProtocolOptions,
  Duration,
  Http2ProtocolOptions,
  Metadata,
  OutlierDetection as EnvoyOutlierDetection,
  PackedAs,
  TcpKeepalive,
  Thresholds,
  Value,
} from '../../../proto/envoyTypes.generated.js';

const defaultConnectTimeout = sharedMessage<Duration>({ seconds: DefaultConnectTimeoutSeconds });
const connectTimeout = (): Duration => defaultConnectTimeout;

function defaultThresholds(): Thresholds {
  return {
    maxConnections: { value: MaxUint32 },
    maxPendingRequests: { value: MaxUint32 },
    maxRequests: { value: MaxUint32 },
    maxRetries: { value: MaxUint32 },
    trackRemaining: true,
  };
}

/** Cluster metadata istioctl reads: the services behind it and the DestinationRule that shaped it. */
function istioMetadata(
  service: MeshService | undefined,
  port: MeshServicePort | undefined,
  destinationRule?: ConfigEntry<DestinationRuleSpec>,
  subset?: string,
): Metadata {
  // Written as a Struct directly: every cluster carries it.
  const fields: Record<string, Value> = {};
  if (service) {
    fields.services = servicesValue(service);
    if (port) fields.default_original_port = { numberValue: port.port };
  }
  if (destinationRule) {
    fields.config = { stringValue: istioConfigPath('destination-rule', destinationRule.namespace, destinationRule.name) };
    if (subset) fields.subset = { stringValue: subset };
  }
  return { filterMetadata: { istio: { fields } } };
}

// The `services` entry is the same for every port and subset cluster of a service.
const servicesValues = new WeakMap<MeshService, Value>();

function servicesValue(service: MeshService): Value {
  let value = servicesValues.get(service);
  if (!value) {
    value = sharedMessage(toStructValue([{ host: service.hostname, name: service.name, namespace: service.namespace }]));
    servicesValues.set(service, value);
  }
  return value;
}

export interface OutboundClusterInput {
  name: string;
  service: MeshService;
  port: MeshServicePort;
  subset?: string;
  /** Subset labels select STATIC/DNS endpoints inline; EDS filters them in the load assignment. */
  subsetLabels?: Readonly<Record<string, string>>;
  policy?: EffectiveTrafficPolicy;
  destinationRule?: ConfigEntry<DestinationRuleSpec>;
  /** Endpoints for clusters that carry them inline (DNS resolution). */
  endpoints: readonly MeshEndpoint[];
  /** SPIFFE identities of the service's workloads: the SANs ISTIO_MUTUAL and auto mTLS pin. */
  serviceIdentities?: readonly string[];
}

/**
 * An outbound cluster for one service port (and subset), as istiod builds it;
 * undefined for a DNS cluster left without endpoints (istiod drops those, and
 * Envoy rejects a LOGICAL_DNS cluster without exactly one).
 */
export function buildOutboundCluster(input: OutboundClusterInput): Cluster | undefined {
  const { name, service, port, policy } = input;
  const cluster: Cluster = { name, altStatName: delimitedStatsPrefix(name) };
  switch (service.resolution) {
    case 'ClientSideLB':
      cluster.type = 'EDS';
      cluster.edsClusterConfig = { edsConfig: adsConfigSource(), serviceName: name };
      break;
    case 'DNSLB':
    case 'DNSRoundRobinLB':
      cluster.type = service.resolution === 'DNSLB' ? 'STRICT_DNS' : 'LOGICAL_DNS';
      cluster.dnsLookupFamily = 'V4_ONLY';
      cluster.dnsRefreshRate = { seconds: DefaultDnsRefreshRateSeconds };
      cluster.respectDnsTtl = true;
      cluster.loadAssignment = { clusterName: name, endpoints: buildLocalityLbEndpoints(input.endpoints, input.subsetLabels) };
      if (cluster.loadAssignment.endpoints!.length === 0) return undefined;
      break;
    case 'Passthrough':
      cluster.type = 'ORIGINAL_DST';
      break;
  }
  cluster.commonLbConfig = {};
  cluster.connectTimeout = connectTimeout();
  applyConnectionPool(cluster, policy?.connectionPool, port);
  applyOutlierDetection(cluster, policy?.outlierDetection);
  applyLoadBalancer(cluster, policy?.loadBalancer);
  applyTls(cluster, policy?.tls, service, {
    hostname: service.hostname,
    port: port.port,
    subset: input.subset ?? '',
    http2: isHttp2Protocol(port.protocol),
    serviceIdentities: input.serviceIdentities ?? [],
  });
  cluster.metadata = istioMetadata(service, port, input.destinationRule, input.subset);
  if (service.meshExternal) {
    const fields = cluster.metadata.filterMetadata!.istio!.fields!;
    fields.external = { boolValue: true };
  }
  return cluster;
}

type HttpProtocolOptionsAny = PackedAs<typeof typeUrls.httpProtocolOptions>;

function protocolOptions(cluster: Cluster): HttpProtocolOptionsAny {
  const all = (cluster.typedExtensionProtocolOptions ??= {});
  // Only this module puts options under this key, always of this type.
  return (all['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'] ??= { '@type': typeUrls.httpProtocolOptions }) as HttpProtocolOptionsAny;
}

// Policies come from DestinationRule specs, which many clusters share (every
// subset and port of a host): their Envoy form is built and encoded once per
// settings object (see sharedMessage), not once per cluster.
// One map per kind of policy, so what a settings object maps to has one type.
const circuitBreakersPerSettings = new WeakMap<object, CircuitBreakers>();
const outlierDetectionPerSettings = new WeakMap<object, EnvoyOutlierDetection>();
const noSettings = {};

function sharedPerSettings<T extends object>(cache: WeakMap<object, T>, settings: object | undefined, build: () => T): T {
  const key = settings ?? noSettings;
  let json = cache.get(key);
  if (!json) {
    json = sharedMessage(build());
    cache.set(key, json);
  }
  return json;
}

function circuitBreakers(settings: ConnectionPoolSettings | undefined): CircuitBreakers {
  const threshold = defaultThresholds();
  const http = settings?.http;
  const tcp = settings?.tcp;
  if (http?.http2MaxRequests) threshold.maxRequests = { value: http.http2MaxRequests };
  if (http?.http1MaxPendingRequests) threshold.maxPendingRequests = { value: http.http1MaxPendingRequests };
  if (http?.maxRetries) threshold.maxRetries = { value: http.maxRetries };
  if (tcp?.maxConnections) threshold.maxConnections = { value: tcp.maxConnections };
  return { thresholds: [orderThreshold(threshold)] };
}

export function applyConnectionPool(cluster: Cluster, settings: ConnectionPoolSettings | undefined, port: MeshServicePort | undefined): void {
  const http = settings?.http;
  const tcp = settings?.tcp;
  if (tcp?.connectTimeout) cluster.connectTimeout = toProtoDuration(tcp.connectTimeout);
  if (tcp?.tcpKeepalive) {
    const keepalive: TcpKeepalive = {};
    if (tcp.tcpKeepalive.probes) keepalive.keepaliveProbes = { value: tcp.tcpKeepalive.probes };
    if (tcp.tcpKeepalive.time) keepalive.keepaliveTime = { value: toProtoDuration(tcp.tcpKeepalive.time).seconds };
    if (tcp.tcpKeepalive.interval) keepalive.keepaliveInterval = { value: toProtoDuration(tcp.tcpKeepalive.interval).seconds };
    cluster.upstreamConnectionOptions = { tcpKeepalive: keepalive };
  }
  cluster.circuitBreakers = sharedPerSettings(circuitBreakersPerSettings, settings, () => circuitBreakers(settings));

  const h2 = http?.h2UpgradePolicy === 'UPGRADE' || (http?.h2UpgradePolicy !== 'DO_NOT_UPGRADE' && port !== undefined && isHttp2Protocol(port.protocol));
  // A sniffed port forwards HTTP/1.1 or HTTP/2 as the client spoke it.
  const useClientProtocol = http?.useClientProtocol || (port?.protocol === 'UNKNOWN' && !h2);
  const idleTimeout = http?.idleTimeout ?? tcp?.idleTimeout;
  const common: CommonHttpProtocolOptions = {};
  if (idleTimeout) common.idleTimeout = toProtoDuration(idleTimeout);
  if (http?.maxRequestsPerConnection) common.maxRequestsPerConnection = { value: http.maxRequestsPerConnection };
  if (tcp?.maxConnectionDuration) common.maxConnectionDuration = toProtoDuration(tcp.maxConnectionDuration);
  if (Object.keys(common).length === 0 && !h2 && !useClientProtocol) return;
  const options = protocolOptions(cluster);
  if (Object.keys(common).length > 0) options.commonHttpProtocolOptions = common;
  if (useClientProtocol) options.useDownstreamProtocolConfig = { httpProtocolOptions: {}, http2ProtocolOptions: {} };
  else if (h2) {
    const h2Options: Http2ProtocolOptions = {};
    if (http?.maxConcurrentStreams) h2Options.maxConcurrentStreams = { value: http.maxConcurrentStreams };
    options.explicitHttpConfig = { http2ProtocolOptions: h2Options };
  } else options.explicitHttpConfig = { httpProtocolOptions: {} };
}

function orderThreshold(t: Thresholds): Thresholds {
  return {
    maxConnections: t.maxConnections,
    maxPendingRequests: t.maxPendingRequests,
    maxRequests: t.maxRequests,
    maxRetries: t.maxRetries,
    trackRemaining: true,
  };
}

export function applyOutlierDetection(cluster: Cluster, outlier: OutlierDetection | undefined): void {
  if (!outlier) return;
  cluster.outlierDetection = sharedPerSettings(outlierDetectionPerSettings, outlier, () => outlierDetection(outlier));
  // istiod disables the panic threshold unless minHealthPercent asks for one.
  cluster.commonLbConfig!.healthyPanicThreshold = { value: outlier.minHealthPercent ?? 0 };
}

function outlierDetection(outlier: OutlierDetection): EnvoyOutlierDetection {
  const out: EnvoyOutlierDetection = {};
  if (outlier.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = { value: outlier.consecutive5xxErrors };
    out.enforcingConsecutive_5xx = { value: outlier.consecutive5xxErrors > 0 ? 100 : 0 };
  }
  if (outlier.interval) out.interval = toProtoDuration(outlier.interval);
  if (outlier.baseEjectionTime) out.baseEjectionTime = toProtoDuration(outlier.baseEjectionTime);
  if (outlier.maxEjectionPercent) out.maxEjectionPercent = { value: outlier.maxEjectionPercent };
  // Success-rate ejection stays off, as in istiod.
  out.enforcingSuccessRate = { value: 0 };
  if (outlier.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = { value: outlier.consecutiveGatewayErrors };
    out.enforcingConsecutiveGatewayFailure = { value: outlier.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (outlier.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (outlier.consecutiveLocalOriginFailures) {
      out.consecutiveLocalOriginFailure = { value: outlier.consecutiveLocalOriginFailures };
      out.enforcingConsecutiveLocalOriginFailure = { value: 100 };
    }
    out.enforcingLocalOriginSuccessRate = { value: 0 };
  }
  return out;
}

export function applyLoadBalancer(cluster: Cluster, lb: LoadBalancerSettings | undefined): void {
  const locality = lb?.localityLbSetting;
  if (
    locality?.enabled !== false &&
    (locality?.distribute?.length || (cluster.outlierDetection && (locality?.failover?.length || locality?.failoverPriority?.length)))
  ) {
    cluster.commonLbConfig!.localityWeightedLbConfig = {};
  }
  if (cluster.type === 'ORIGINAL_DST') {
    cluster.lbPolicy = 'CLUSTER_PROVIDED';
    return;
  }
  switch (lb?.simple) {
    case 'ROUND_ROBIN':
      cluster.lbPolicy = 'ROUND_ROBIN';
      break;
    case 'RANDOM':
      cluster.lbPolicy = 'RANDOM';
      break;
    case 'PASSTHROUGH':
      cluster.lbPolicy = 'CLUSTER_PROVIDED';
      cluster.type = 'ORIGINAL_DST';
      delete cluster.edsClusterConfig;
      delete cluster.loadAssignment;
      break;
    default:
      // LEAST_CONN is LEAST_REQUEST in Envoy; istiod's default is LEAST_REQUEST too.
      cluster.lbPolicy = 'LEAST_REQUEST';
  }
  if (lb?.warmupDurationSecs && (cluster.lbPolicy === 'LEAST_REQUEST' || cluster.lbPolicy === 'ROUND_ROBIN')) {
    const config = { slowStartConfig: { slowStartWindow: toProtoDuration(lb.warmupDurationSecs) } };
    if (cluster.lbPolicy === 'LEAST_REQUEST') cluster.leastRequestLbConfig = config;
    else cluster.roundRobinLbConfig = config;
  }
  const hash = lb?.consistentHash;
  if (!hash) return;
  if (hash.maglev) {
    cluster.lbPolicy = 'MAGLEV';
    if (hash.maglev.tableSize) cluster.maglevLbConfig = { tableSize: { value: hash.maglev.tableSize } };
    return;
  }
  cluster.lbPolicy = 'RING_HASH';
  const minimumRingSize = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize ?? 1024;
  cluster.ringHashLbConfig = { minimumRingSize: { value: minimumRingSize } };
}

/**
 * Upstream TLS. ISTIO_MUTUAL, and auto mTLS when no DestinationRule sets TLS
 * (mTLS to endpoints labelled `tlsMode: istio`, plaintext to the rest), come
 * from the security module; SIMPLE and MUTUAL read files served by the
 * agent's SDS (`file-cert:`/`file-root:`) or a Secret (`credentialName`).
 */
export function applyTls(cluster: Cluster, tls: ClientTLSSettings | undefined, service: MeshService, target?: UpstreamTlsTarget): void {
  if (tls?.mode === 'ISTIO_MUTUAL' || (tls?.mode === undefined && !service.meshExternal)) {
    if (target) Object.assign(cluster, upstreamTransport(tls?.mode === 'ISTIO_MUTUAL' ? tls : undefined, target));
    return;
  }
  if (!tls || tls.mode === undefined || tls.mode === 'DISABLE') return;
  const defaultSni = service.meshExternal && !service.hostname.includes('*') ? service.hostname : undefined;
  cluster.transportSocket = tlsTransportSocket(userUpstreamTlsContext(tls, defaultSni));
}

/** Where an inbound cluster delivers traffic instead of the original destination (Sidecar ingress defaultEndpoint). */
export type InboundEndpoint = { readonly address: string; readonly port: number } | { readonly pipe: string };

export interface InboundClusterOptions {
  readonly endpoint?: InboundEndpoint;
  /** The Sidecar's inbound connection pool (thresholds and timeouts). */
  readonly connectionPool?: ConnectionPoolSettings;
}

const loopbackAddresses: ReadonlySet<string> = new Set(['127.0.0.1', '::1']);

/**
 * `inbound|PORT||`: original destination to the local workload, or a static
 * endpoint when one is given; bound to 127.0.0.6 so iptables lets it through,
 * except towards loopback, which iptables does not capture.
 */
export function buildInboundCluster(port: number, service: MeshService, servicePort: MeshServicePort, options: InboundClusterOptions = {}): Cluster {
  const name = inboundClusterName(port);
  const { endpoint } = options;
  const cluster: Cluster = {
    name,
    altStatName: delimitedStatsPrefix(name),
    type: endpoint ? 'STATIC' : 'ORIGINAL_DST',
    connectTimeout: connectTimeout(),
    // istiod sets no load balancer on inbound clusters: a static one keeps Envoy's default.
    ...(endpoint ? {} : { lbPolicy: 'CLUSTER_PROVIDED' }),
    circuitBreakers: { thresholds: [defaultThresholds()] },
    commonLbConfig: {},
    metadata: istioMetadata(service, servicePort),
  };
  if (endpoint) {
    const address = 'pipe' in endpoint ? { pipe: { path: endpoint.pipe } } : socketAddress(endpoint.address, endpoint.port);
    cluster.loadAssignment = { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address } }] }] };
  } else {
    // Inbound original-destination hosts are never cleaned up (istiod uses the maximum duration).
    cluster.cleanupInterval = { seconds: 315576000000 };
  }
  if (!endpoint || 'pipe' in endpoint || !loopbackAddresses.has(endpoint.address)) {
    cluster.upstreamBindConfig = { sourceAddress: { address: InboundPassthroughBindIpv4, portValue: 0 } };
  }
  if (options.connectionPool) applyConnectionPool(cluster, options.connectionPool, undefined);
  if (isHttp2Protocol(servicePort.protocol)) protocolOptions(cluster).explicitHttpConfig = { http2ProtocolOptions: {} };
  return cluster;
}

export function buildBlackHoleCluster(): Cluster {
  return {
    name: BlackHoleCluster,
    altStatName: delimitedStatsPrefix(BlackHoleCluster),
    type: 'STATIC',
    connectTimeout: connectTimeout(),
    lbPolicy: 'ROUND_ROBIN',
  };
}

function passthroughProtocolOptions(): Cluster['typedExtensionProtocolOptions'] {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': typeUrls.httpProtocolOptions,
      useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
    },
  };
}

export function buildPassthroughCluster(): Cluster {
  return {
    name: PassthroughCluster,
    altStatName: delimitedStatsPrefix(PassthroughCluster),
    type: 'ORIGINAL_DST',
    connectTimeout: connectTimeout(),
    lbPolicy: 'CLUSTER_PROVIDED',
    circuitBreakers: { thresholds: [defaultThresholds()] },
    typedExtensionProtocolOptions: passthroughProtocolOptions(),
  };
}

export function buildInboundPassthroughCluster(): Cluster {
  return {
    name: InboundPassthroughCluster,
    altStatName: delimitedStatsPrefix(InboundPassthroughCluster),
    type: 'ORIGINAL_DST',
    connectTimeout: connectTimeout(),
    lbPolicy: 'CLUSTER_PROVIDED',
    circuitBreakers: { thresholds: [defaultThresholds()] },
    upstreamBindConfig: { sourceAddress: { address: InboundPassthroughBindIpv4, portValue: 0 } },
    typedExtensionProtocolOptions: passthroughProtocolOptions(),
  };
}
