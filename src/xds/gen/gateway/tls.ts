// The DownstreamTlsContext of a terminating gateway server, as istiod builds
// it: credentialName certificates (and the `-cacert` CA for MUTUAL and
// OPTIONAL_MUTUAL) come over SDS on the gateway's own ADS stream;
// ISTIO_MUTUAL uses the workload certificate from the agent. For credential
// modes TLS 1.2 is the default minimum and the server's protocol versions
// and cipher suites apply; client SANs apply wherever clients are verified.
import { caCertSuffix, credentialResourceName } from '../../../push/credentials.js';
import { credentialOf, verifiesClients, type ServerTls } from '../../../push/gateways.js';
import { adsConfigSource } from '../common/names.js';
import {
  RootCertificateSecret,
  WorkloadCertificateSecret,
  sdsSecretConfig,
  DownstreamTlsContextTypeUrl,
  TlsTransportSocketName,
} from '../../../security/tls.js';
import type {
  CommonTlsContext,
  SdsSecretConfig,
  TransportSocket,
  envoy_extensions_transport_sockets_tls_v3_TlsParameters as TlsParameters,
} from '../../../proto/envoyTypes.generated.js';

/** ALPN of a terminating server (istiod's ALPNHttp, for TCP servers too). */
const httpAlpn = ['h2', 'http/1.1'];
/** A terminating ISTIO_MUTUAL TCP server also offers Istio's metadata exchange (istiod's ALPNDownstreamWithMxc). */
const meshTcpAlpn = ['istio-peer-exchange', 'h2', 'http/1.1'];

/** Envoy's TlsProtocol names for Istio's ServerTLSSettings.TLSProtocol. */
const tlsProtocols: Readonly<Record<string, NonNullable<TlsParameters['tlsMinimumProtocolVersion']>>> = {
  TLS_AUTO: 'TLS_AUTO',
  TLSV1_0: 'TLSv1_0',
  TLSV1_1: 'TLSv1_1',
  TLSV1_2: 'TLSv1_2',
  TLSV1_3: 'TLSv1_3',
};

/** SDS config for a credential's SDS name: the gateway's ADS stream (istiod's SDSAdsConfig). */
function credentialSecretConfig(resourceName: string): SdsSecretConfig {
  const { ads, resourceApiVersion } = adsConfigSource();
  return { name: resourceName, sdsConfig: { ads, resourceApiVersion } };
}

function tlsParams(tls: ServerTls): TlsParameters {
  const params: TlsParameters = { tlsMinimumProtocolVersion: tlsProtocols[tls.minProtocolVersion ?? 'TLSV1_2'] ?? 'TLSv1_2' };
  const max = tls.maxProtocolVersion ? tlsProtocols[tls.maxProtocolVersion] : undefined;
  if (max) params.tlsMaximumProtocolVersion = max;
  if (tls.cipherSuites?.length) params.cipherSuites = [...tls.cipherSuites];
  return params;
}

/** The TLS transport socket of a terminating server, or undefined for modes without termination (passthrough). */
export function gatewayTransportSocket(tls: ServerTls, http: boolean): TransportSocket | undefined {
  const common: CommonTlsContext = {};
  const sans = (tls.subjectAltNames ?? []).map((exact) => ({ exact }));
  const credential = credentialOf(tls);
  let requireClientCertificate = false;
  if (tls.mode === 'ISTIO_MUTUAL') {
    common.tlsCertificateSdsSecretConfigs = [sdsSecretConfig(WorkloadCertificateSecret)];
    common.combinedValidationContext = {
      defaultValidationContext: sans.length ? { matchSubjectAltNames: sans } : {},
      validationContextSdsSecretConfig: sdsSecretConfig(RootCertificateSecret),
    };
    requireClientCertificate = true;
  } else if (credential) {
    common.tlsCertificateSdsSecretConfigs = [credentialSecretConfig(credentialResourceName(credential))];
    if (verifiesClients(tls)) {
      common.combinedValidationContext = {
        defaultValidationContext: sans.length ? { matchSubjectAltNames: sans } : {},
        validationContextSdsSecretConfig: credentialSecretConfig(`${credentialResourceName(credential)}${caCertSuffix}`),
      };
      requireClientCertificate = tls.mode === 'MUTUAL';
    }
  } else {
    return undefined;
  }
  common.alpnProtocols = tls.mode === 'ISTIO_MUTUAL' && !http ? meshTcpAlpn : httpAlpn;
  // Protocol versions and cipher suites apply to credential modes (istiod leaves ISTIO_MUTUAL's to the mesh).
  if (tls.mode !== 'ISTIO_MUTUAL') common.tlsParams = tlsParams(tls);
  return {
    name: TlsTransportSocketName,
    typedConfig: { '@type': DownstreamTlsContextTypeUrl, commonTlsContext: common, requireClientCertificate: { value: requireClientCertificate } },
  };
}
