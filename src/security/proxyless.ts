// Proxyless gRPC security as istiod's grpc generator provides it: xDS
// credentials whose certificates come from the certificate provider
// instance `default` of the workload's bootstrap (a `file_watcher` plugin
// reading the agent's certificate files), never from SDS.
import type { ClientTLSSettings } from '../model/istio.js';
import { mtlsModeForPort, type EffectiveMtlsMode } from './peerAuthentication.js';
import { DownstreamTlsContextTypeUrl, RootCertificateSecret, UpstreamTlsContextTypeUrl, WorkloadCertificateSecret } from './tls.js';
import { JwtAuthnFilterName } from './matchers.js';
import type {
  CommonTlsContext,
  HttpFilter,
  TransportSocket,
  envoy_extensions_transport_sockets_tls_v3_CertificateValidationContext as CertificateValidationContext,
} from '../proto/envoyTypes.generated.js';
import type { WorkloadIdentity } from './selection.js';
import { workloadSecurity, type MeshSecurityPolicies } from './workloadSecurity.js';

export const CertificateProviderInstance = 'default';
/** istiod's grpc generator name for the DENY RBAC filter (the ALLOW one keeps envoy.filters.http.rbac). */
export const ProxylessRbacDenyFilterName = 'envoy.filters.http.rbac.DENY';

/**
 * CommonTlsContext naming the certificate provider instance for both the
 * workload certificate and the root. istiod also sends the deprecated
 * field-11 certificate instance for older gRPC releases; it puts the root in a
 * combined validation context, whose SDS member Envoy's validation rules
 * require, so meshd uses the plain validation context, which gRPC reads alike.
 */
export function proxylessCommonTlsContext(subjectAltNames: readonly string[] = []): CommonTlsContext {
  const certificate = { instanceName: CertificateProviderInstance, certificateName: WorkloadCertificateSecret };
  const root = { instanceName: CertificateProviderInstance, certificateName: RootCertificateSecret };
  const validationContext: CertificateValidationContext = { caCertificateProviderInstance: root };
  if (subjectAltNames.length > 0) validationContext.matchSubjectAltNames = subjectAltNames.map((exact) => ({ exact }));
  return { tlsCertificateProviderInstance: certificate, tlsCertificateCertificateProviderInstance: certificate, validationContext };
}

/** Client side: the cluster's transport socket, pinning the destination's identities when known. */
export function proxylessUpstreamTransportSocket(subjectAltNames: readonly string[] = []): TransportSocket {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: { '@type': UpstreamTlsContextTypeUrl, commonTlsContext: proxylessCommonTlsContext(subjectAltNames) },
  };
}

/**
 * Server side: the inbound listener's transport socket, or undefined for a
 * plaintext listener. gRPC servers cannot tell TLS from plaintext on one
 * port, so, as istiod does, PERMISSIVE serves plaintext and only STRICT
 * terminates mTLS (client certificate required).
 */
export function proxylessDownstreamTransportSocket(mode: EffectiveMtlsMode): TransportSocket | undefined {
  if (mode !== 'STRICT') return undefined;
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: { '@type': DownstreamTlsContextTypeUrl, commonTlsContext: proxylessCommonTlsContext(), requireClientCertificate: { value: true } },
  };
}

export interface FileWatcherPaths {
  readonly certificateFile: string;
  readonly privateKeyFile: string;
  readonly caCertificateFile: string;
  /** Seconds between reads of the files. */
  readonly refreshIntervalSeconds?: number;
}

/** The bootstrap `certificate_providers` entry a proxyless workload needs for xDS credentials. */
export function fileWatcherCertificateProviders(paths: FileWatcherPaths): Record<string, unknown> {
  return {
    [CertificateProviderInstance]: {
      plugin_name: 'file_watcher',
      config: {
        certificate_file: paths.certificateFile,
        private_key_file: paths.privateKeyFile,
        ca_certificate_file: paths.caCertificateFile,
        refresh_interval: `${paths.refreshIntervalSeconds ?? 900}s`,
      },
    },
  };
}

/**
 * What security adds to one proxyless server listener: its transport socket
 * and the HTTP filters before the router. gRPC enforces only ALLOW and DENY
 * RBAC (no AUDIT, no JWT filter), as istiod's grpc generator sends.
 */
export interface ProxylessServerSecurity {
  readonly mode: EffectiveMtlsMode;
  readonly transportSocket?: TransportSocket;
  /** DENY then ALLOW RBAC filters. */
  readonly httpFilters: HttpFilter[];
}

export function proxylessServerSecurity(policies: MeshSecurityPolicies, workload: WorkloadIdentity, port: number): ProxylessServerSecurity {
  const security = workloadSecurity(policies, workload);
  const mode = mtlsModeForPort(security.mtls, port);
  const transportSocket = proxylessDownstreamTransportSocket(mode);
  const httpFilters = security.httpFilters.flatMap((f) => {
    const action = (f.typedConfig as { rules?: { action?: string }; shadowRules?: { action?: string } }).rules?.action;
    if (f.name === JwtAuthnFilterName || (action !== 'ALLOW' && action !== 'DENY')) return [];
    // gRPC rejects duplicate filter names in one connection manager: istiod's grpc names for the two actions.
    return [{ ...f, name: action === 'DENY' ? ProxylessRbacDenyFilterName : f.name }];
  });
  return transportSocket ? { mode, transportSocket, httpFilters } : { mode, httpFilters };
}

/**
 * A proxyless client cluster's transport socket: as istiod's grpc generator,
 * only an explicit DestinationRule ISTIO_MUTUAL turns on mTLS (gRPC cannot
 * reach PERMISSIVE servers with auto mTLS), pinned to the service's identities.
 */
export function proxylessClusterTransportSocket(tls: ClientTLSSettings | undefined, serviceIdentities: readonly string[]): TransportSocket | undefined {
  if (tls?.mode !== 'ISTIO_MUTUAL') return undefined;
  return proxylessUpstreamTransportSocket(tls.subjectAltNames?.length ? tls.subjectAltNames : serviceIdentities);
}

/** SPIFFE identities of a service's endpoints, as istiod pins them for ISTIO_MUTUAL. */
export function serviceIdentities(endpoints: readonly { serviceAccount: string }[], namespace: string, trustDomain: string): string[] {
  const ids = new Set<string>();
  for (const { serviceAccount } of endpoints) {
    if (!serviceAccount) continue;
    ids.add(serviceAccount.startsWith('spiffe://') ? serviceAccount : `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`);
  }
  return [...ids].sort();
}
