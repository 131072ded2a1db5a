// TLS configuration for sidecars as istiod builds it. Certificates never
// travel in xDS: the workload certificate (`default`) and the mesh root
// (`ROOTCA`) come by SDS from the local agent over the `sds-grpc` cluster.
import type { ClientTLSSettings } from '../model/istio.js';
import type { EffectiveMtlsMode } from './peerAuthentication.js';
import { sharedMessage } from '../proto/jsonEncoder.js';
import type {
  ClusterTransportSocketMatch,
  CommonTlsContext,
  FilterChainMatch,
  Metadata,
  PackedAs,
  SdsSecretConfig,
  TransportSocket,
  envoy_extensions_transport_sockets_tls_v3_CertificateValidationContext as CertificateValidationContext,
} from '../proto/envoyTypes.generated.js';

export const WorkloadCertificateSecret = 'default';
export const RootCertificateSecret = 'ROOTCA';
export const SdsClusterName = 'sds-grpc';
export const TlsTransportSocketName = 'envoy.transport_sockets.tls';
export const RawBufferTransportSocketName = 'envoy.transport_sockets.raw_buffer';
export const DownstreamTlsContextTypeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const UpstreamTlsContextTypeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const RawBufferTypeUrl = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

/** The Any-packed TLS contexts a transport socket carries. */
export type PackedDownstreamTlsContext = PackedAs<typeof DownstreamTlsContextTypeUrl>;
export type PackedUpstreamTlsContext = PackedAs<typeof UpstreamTlsContextTypeUrl>;

/** Endpoint metadata filter and key that auto mTLS matches on (istiod's `tlsMode` label value). */
export const TransportSocketMatchFilter = 'envoy.transport_socket_match';
export const TlsModeIstio = 'istio';

/** ALPN values as istiod uses them. */
export const Alpn = {
  /** Server TLS context for HTTP chains. */
  http: ['h2', 'http/1.1'],
  /** Server TLS context for TCP chains: also accepts TCP metadata exchange. */
  downstreamWithMetadataExchange: ['istio-peer-exchange', 'h2', 'http/1.1'],
  /** Client (outbound ISTIO_MUTUAL) over TCP or HTTP/1. */
  inMeshWithMetadataExchange: ['istio-peer-exchange', 'istio'],
  /** Client (outbound ISTIO_MUTUAL) to an HTTP/2 port. */
  inMeshH2WithMetadataExchange: ['istio-peer-exchange', 'istio', 'h2'],
  /** Filter chain match: any ALPN an Istio client sends over mTLS. */
  allIstioMtls: ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
  mtlsHttp: ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
  mtlsTcpWithMetadataExchange: ['istio-peer-exchange', 'istio'],
  plaintextHttp: ['http/1.1', 'h2c'],
} as const;

/** Server cipher suites istiod configures for sidecar mTLS. */
export const SupportedCiphers = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
];

/** The two secrets every mesh TLS context names: built once, encoded once (see sharedMessage). */
const meshSecretConfigs = new Map<string, SdsSecretConfig>(
  [WorkloadCertificateSecret, RootCertificateSecret].map((name) => [name, sharedMessage(buildSdsSecretConfig(name))]),
);

/** SDS from the agent: ADS-less gRPC config source over `sds-grpc`. */
export function sdsSecretConfig(name: string): SdsSecretConfig {
  return meshSecretConfigs.get(name) ?? buildSdsSecretConfig(name);
}

function buildSdsSecretConfig(name: string): SdsSecretConfig {
  return {
    name,
    sdsConfig: {
      apiConfigSource: {
        apiType: 'GRPC',
        transportApiVersion: 'V3',
        grpcServices: [{ envoyGrpc: { clusterName: SdsClusterName } }],
        setNodeOnFirstMessageOnly: true,
      },
      initialFetchTimeout: { seconds: 0 },
      resourceApiVersion: 'V3',
    },
  };
}

// Clusters of services run by the same service accounts carry the same context: share one per ALPN and SAN set.
const commonContexts = new Map<string, CommonTlsContext>();
const commonContextsLimit = 10_000;

/** Workload certificate plus ROOTCA validation, optionally pinned to SANs. */
function meshCommonTlsContext(alpn: readonly string[], subjectAltNames: readonly string[] = []): CommonTlsContext {
  const key = `${alpn.join(',')}|${subjectAltNames.join(',')}`;
  let context = commonContexts.get(key);
  if (!context) {
    if (commonContexts.size >= commonContextsLimit) commonContexts.clear();
    context = sharedMessage(buildMeshCommonTlsContext(alpn, subjectAltNames));
    commonContexts.set(key, context);
  }
  return context;
}

function buildMeshCommonTlsContext(alpn: readonly string[], subjectAltNames: readonly string[]): CommonTlsContext {
  const defaultValidationContext: CertificateValidationContext = {};
  if (subjectAltNames.length > 0) defaultValidationContext.matchSubjectAltNames = subjectAltNames.map((exact) => ({ exact }));
  return {
    tlsCertificateSdsSecretConfigs: [sdsSecretConfig(WorkloadCertificateSecret)],
    combinedValidationContext: { defaultValidationContext, validationContextSdsSecretConfig: sdsSecretConfig(RootCertificateSecret) },
    alpnProtocols: [...alpn],
  };
}

export type ChainProtocol = 'http' | 'tcp';

/** The server-side (inbound) mTLS context: the client certificate is always required on the TLS chain. */
export function inboundDownstreamTlsContext(protocol: ChainProtocol): PackedDownstreamTlsContext {
  const common: CommonTlsContext = {
    ...meshCommonTlsContext(protocol === 'tcp' ? Alpn.downstreamWithMetadataExchange : Alpn.http),
    tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3', cipherSuites: SupportedCiphers },
  };
  return { '@type': DownstreamTlsContextTypeUrl, commonTlsContext: common, requireClientCertificate: { value: true } };
}

export function tlsTransportSocket(typedConfig: PackedDownstreamTlsContext | PackedUpstreamTlsContext): TransportSocket {
  return { name: TlsTransportSocketName, typedConfig };
}

export interface InboundChainOption {
  /** FilterChainMatch fields besides destinationPort (transportProtocol, applicationProtocols). */
  readonly match: FilterChainMatch;
  /** The chain's protocol: HTTP connection manager or TCP proxy. */
  readonly protocol: ChainProtocol;
  /** When set, the chain terminates mTLS with this transport socket. */
  readonly transportSocket?: TransportSocket;
}

const tlsMatch = (applicationProtocols?: readonly string[]): FilterChainMatch =>
  applicationProtocols ? { transportProtocol: 'tls', applicationProtocols: [...applicationProtocols] } : { transportProtocol: 'tls' };
const plaintextMatch = (applicationProtocols?: readonly string[]): FilterChainMatch =>
  applicationProtocols ? { transportProtocol: 'raw_buffer', applicationProtocols: [...applicationProtocols] } : { transportProtocol: 'raw_buffer' };

/**
 * The inbound filter chains istiod builds for one port under a mode. `auto`
 * is a port whose protocol is sniffed. Every chain with a TLS match needs
 * the TLS inspector listener filter; plaintext HTTP matches need the HTTP
 * inspector.
 */
export function inboundChainOptions(mode: EffectiveMtlsMode, protocol: ChainProtocol | 'auto'): InboundChainOption[] {
  const mtls = (p: ChainProtocol): TransportSocket => tlsTransportSocket(inboundDownstreamTlsContext(p));
  if (mode === 'DISABLE') {
    if (protocol === 'auto') {
      return [
        { match: plaintextMatch(Alpn.plaintextHttp), protocol: 'http' },
        { match: plaintextMatch(), protocol: 'tcp' },
      ];
    }
    return [{ match: plaintextMatch(), protocol }];
  }
  if (mode === 'STRICT') {
    if (protocol === 'auto') {
      return [
        { match: tlsMatch(Alpn.mtlsHttp), protocol: 'http', transportSocket: mtls('http') },
        { match: tlsMatch(), protocol: 'tcp', transportSocket: mtls('tcp') },
      ];
    }
    return [{ match: tlsMatch(), protocol, transportSocket: mtls(protocol) }];
  }
  // PERMISSIVE: mTLS from mesh clients, plaintext (and, for TCP, one-way TLS) from the rest.
  if (protocol === 'http') {
    return [
      { match: tlsMatch(Alpn.allIstioMtls), protocol: 'http', transportSocket: mtls('http') },
      { match: plaintextMatch(), protocol: 'http' },
    ];
  }
  if (protocol === 'tcp') {
    return [
      { match: tlsMatch(Alpn.allIstioMtls), protocol: 'tcp', transportSocket: mtls('tcp') },
      { match: tlsMatch(), protocol: 'tcp' },
      { match: plaintextMatch(), protocol: 'tcp' },
    ];
  }
  return [
    { match: tlsMatch(Alpn.mtlsHttp), protocol: 'http', transportSocket: mtls('http') },
    { match: plaintextMatch(Alpn.plaintextHttp), protocol: 'http' },
    { match: tlsMatch(Alpn.mtlsTcpWithMetadataExchange), protocol: 'tcp', transportSocket: mtls('tcp') },
    { match: plaintextMatch(), protocol: 'tcp' },
    { match: tlsMatch(), protocol: 'tcp' },
  ];
}

/** istiod's SNI for in-mesh upstream connections: `outbound_.PORT_.SUBSET_.HOST`. */
export function istioMutualSni(port: number, subset: string, hostname: string): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

export interface UpstreamTlsTarget {
  readonly hostname: string;
  readonly port: number;
  readonly subset?: string;
  /** HTTP/2 upstream (adds `h2` to the ISTIO_MUTUAL ALPN). */
  readonly http2?: boolean;
  /** SPIFFE identities of the service's workloads, pinned as SANs under ISTIO_MUTUAL when no subjectAltNames are given. */
  readonly serviceIdentities?: readonly string[];
}

/** UpstreamTlsContext for ISTIO_MUTUAL: the workload certificate and ROOTCA, Istio ALPN, istiod's SNI. */
export function istioMutualUpstreamTlsContext(target: UpstreamTlsTarget, tls?: ClientTLSSettings): PackedUpstreamTlsContext {
  const sans = tls?.subjectAltNames?.length ? tls.subjectAltNames : (target.serviceIdentities ?? []);
  const alpn = target.http2 ? Alpn.inMeshH2WithMetadataExchange : Alpn.inMeshWithMetadataExchange;
  return {
    '@type': UpstreamTlsContextTypeUrl,
    commonTlsContext: meshCommonTlsContext(alpn, sans),
    sni: tls?.sni ?? istioMutualSni(target.port, target.subset ?? '', target.hostname),
  };
}

/**
 * UpstreamTlsContext for SIMPLE and MUTUAL: credentials by SDS from a Secret
 * (`kubernetes://NAME`) or files on the workload; `defaultSni` applies when
 * the DestinationRule sets none (istiod uses the host of external services).
 */
export function userUpstreamTlsContext(tls: ClientTLSSettings, defaultSni?: string): PackedUpstreamTlsContext {
  const common: CommonTlsContext = {};
  if (tls.mode === 'MUTUAL') {
    const certName = tls.credentialName ? `kubernetes://${tls.credentialName}` : `file-cert:${tls.clientCertificate ?? ''}~${tls.privateKey ?? ''}`;
    common.tlsCertificateSdsSecretConfigs = [sdsSecretConfig(certName)];
  }
  const rootName = tls.credentialName ? `kubernetes://${tls.credentialName}-cacert` : tls.caCertificates ? `file-root:${tls.caCertificates}` : undefined;
  if (rootName && !tls.insecureSkipVerify) {
    const defaultValidationContext: CertificateValidationContext = {};
    if (tls.subjectAltNames?.length) {
      defaultValidationContext.matchTypedSubjectAltNames = tls.subjectAltNames.map((san) => ({ sanType: 'DNS', matcher: { exact: san } }));
    }
    common.combinedValidationContext = { defaultValidationContext, validationContextSdsSecretConfig: sdsSecretConfig(rootName) };
  }
  const context: PackedUpstreamTlsContext = { '@type': UpstreamTlsContextTypeUrl, commonTlsContext: common };
  const sni = tls.sni ?? defaultSni;
  if (sni) context.sni = sni;
  return context;
}

const rawBufferSocket = sharedMessage<TransportSocket>({ name: RawBufferTransportSocketName, typedConfig: { '@type': RawBufferTypeUrl } });

export function rawBufferTransportSocket(): TransportSocket {
  return rawBufferSocket;
}

/** Cluster fields (transportSocket or transportSocketMatches) carrying upstream TLS; empty for plaintext. */
export interface UpstreamTransport {
  transportSocket?: TransportSocket;
  transportSocketMatches?: ClusterTransportSocketMatch[];
}

/**
 * Upstream TLS for one cluster as istiod decides it: DestinationRule TLS
 * when set (DISABLE: plaintext), otherwise auto mTLS: ISTIO_MUTUAL to
 * endpoints labelled `tlsMode: istio`, plaintext to the others.
 */
export function upstreamTransport(tls: ClientTLSSettings | undefined, target: UpstreamTlsTarget, autoMtls = true): UpstreamTransport {
  const mode = tls?.mode;
  if (mode === 'DISABLE') return {};
  if (mode === 'SIMPLE' || mode === 'MUTUAL') return { transportSocket: tlsTransportSocket(userUpstreamTlsContext(tls!)) };
  if (mode === 'ISTIO_MUTUAL') return { transportSocket: tlsTransportSocket(istioMutualUpstreamTlsContext(target, tls)) };
  if (!autoMtls) return {};
  return {
    transportSocketMatches: [
      { name: 'tlsMode-istio', match: tlsModeIstioMatch, transportSocket: tlsTransportSocket(istioMutualUpstreamTlsContext(target)) },
      tlsModeDisabledMatch,
    ],
  };
}

const tlsModeIstioMatch = sharedMessage<NonNullable<ClusterTransportSocketMatch['match']>>({ fields: { tlsMode: { stringValue: TlsModeIstio } } });
const tlsModeDisabledMatch = sharedMessage<ClusterTransportSocketMatch>({
  name: 'tlsMode-disabled',
  match: { fields: {} },
  transportSocket: rawBufferTransportSocket(),
});

/** Endpoint metadata marking an endpoint that runs a proxy (auto mTLS sends it mTLS), as a Struct in protobufjs JSON. */
export function endpointTlsModeMetadata(): Metadata {
  return { filterMetadata: { [TransportSocketMatchFilter]: { fields: { tlsMode: { stringValue: TlsModeIstio } } } } };
}

/** Whether an endpoint runs a proxy, from pod labels as istiod reads them. */
export function endpointRunsProxy(labels: Readonly<Record<string, string>>): boolean {
  return labels['security.istio.io/tlsMode'] === TlsModeIstio;
}
