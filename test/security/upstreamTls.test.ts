// Outbound transport sockets per DestinationRule TLS mode and auto mTLS, each
// in a real Cluster checked against Envoy's protos; proxyless gRPC contexts.
import { describe, expect, it } from 'vitest';
import {
  endpointTlsModeMetadata,
  fileWatcherCertificateProviders,
  proxylessDownstreamTransportSocket,
  proxylessUpstreamTransportSocket,
  upstreamTransport,
  type UpstreamTransport,
} from '../../src/security/index.js';
import type { Json } from '../../src/xds/gen/common/json.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { envoyProblems } from '../support/envoyValidation.js';
import { typedConfigProblems } from '../support/envoyTypedConfig.js';

const target = { hostname: 'reviews.shop.svc.cluster.local', port: 9080, serviceIdentities: ['spiffe://cluster.local/ns/shop/sa/reviews'] };

function clusterWith(transport: UpstreamTransport): Json {
  return {
    name: 'outbound|9080||reviews.shop.svc.cluster.local',
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {} } },
    connectTimeout: { seconds: 10 },
    ...transport,
  };
}

const contextOf = (socket: Json | undefined): Json => (socket as { typedConfig: Json }).typedConfig;

describe('upstream TLS per DestinationRule mode', () => {
  it('ISTIO_MUTUAL: workload certificate and ROOTCA by SDS, Istio ALPN, istiod SNI, service identities as SANs', () => {
    const transport = upstreamTransport({ mode: 'ISTIO_MUTUAL' }, target);
    expect(envoyProblems(TypeUrl.Cluster, clusterWith(transport))).toEqual([]);
    const context = contextOf(transport.transportSocket);
    expect(typedConfigProblems(context)).toEqual([]);
    expect(context).toMatchObject({
      sni: 'outbound_.9080_._.reviews.shop.svc.cluster.local',
      commonTlsContext: {
        alpnProtocols: ['istio-peer-exchange', 'istio'],
        tlsCertificateSdsSecretConfigs: [{ name: 'default' }],
        combinedValidationContext: {
          defaultValidationContext: { matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/shop/sa/reviews' }] },
          validationContextSdsSecretConfig: { name: 'ROOTCA' },
        },
      },
    });
    const h2 = contextOf(upstreamTransport({ mode: 'ISTIO_MUTUAL', sni: 'custom.sni' }, { ...target, http2: true, subset: 'v2' }).transportSocket);
    expect(h2.sni).toBe('custom.sni');
    expect((h2.commonTlsContext as Json).alpnProtocols).toEqual(['istio-peer-exchange', 'istio', 'h2']);
  });

  it('MUTUAL and SIMPLE with credentialName: certificates from the Secret by SDS, SNI and SANs as given', () => {
    const mutual = upstreamTransport({ mode: 'MUTUAL', credentialName: 'client-cred', sni: 'api.example.com', subjectAltNames: ['api.example.com'] }, target);
    expect(envoyProblems(TypeUrl.Cluster, clusterWith(mutual))).toEqual([]);
    expect(contextOf(mutual.transportSocket)).toMatchObject({
      sni: 'api.example.com',
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: [{ name: 'kubernetes://client-cred' }],
        combinedValidationContext: {
          defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: 'api.example.com' } }] },
          validationContextSdsSecretConfig: { name: 'kubernetes://client-cred-cacert' },
        },
      },
    });
    const simple = upstreamTransport({ mode: 'SIMPLE', caCertificates: '/etc/ca.pem' }, target);
    expect(envoyProblems(TypeUrl.Cluster, clusterWith(simple))).toEqual([]);
    const common = contextOf(simple.transportSocket).commonTlsContext as Json;
    expect(common.tlsCertificateSdsSecretConfigs).toBeUndefined();
    expect(common.combinedValidationContext).toMatchObject({ validationContextSdsSecretConfig: { name: 'file-root:/etc/ca.pem' } });
  });

  it('DISABLE: plaintext, no transport socket at all', () => {
    expect(upstreamTransport({ mode: 'DISABLE' }, target)).toEqual({});
  });

  it('auto mTLS without DestinationRule TLS: mTLS to endpoints labelled tlsMode istio, plaintext to the rest', () => {
    const transport = upstreamTransport(undefined, target);
    expect(envoyProblems(TypeUrl.Cluster, clusterWith(transport))).toEqual([]);
    expect(transport.transportSocket).toBeUndefined();
    const [istio, disabled] = transport.transportSocketMatches!;
    expect(istio).toMatchObject({
      name: 'tlsMode-istio',
      match: { fields: { tlsMode: { stringValue: 'istio' } } },
      transportSocket: { name: 'envoy.transport_sockets.tls' },
    });
    expect(disabled).toMatchObject({ name: 'tlsMode-disabled', match: { fields: {} }, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } });
    expect(upstreamTransport(undefined, target, false)).toEqual({});
    const endpoints = {
      clusterName: 'outbound|9080||reviews.shop.svc.cluster.local',
      endpoints: [
        { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.7', portValue: 9080 } } }, metadata: endpointTlsModeMetadata() }] },
      ],
    };
    expect(envoyProblems(TypeUrl.ClusterLoadAssignment, endpoints)).toEqual([]);
  });
});

describe('proxyless gRPC xDS credentials', () => {
  it('client and server contexts name the bootstrap certificate provider default (certificates default and ROOTCA)', () => {
    const client = proxylessUpstreamTransportSocket(['spiffe://cluster.local/ns/shop/sa/reviews']);
    expect(envoyProblems(TypeUrl.Cluster, clusterWith({ transportSocket: client }))).toEqual([]);
    expect(contextOf(client).commonTlsContext).toEqual({
      tlsCertificateProviderInstance: { instanceName: 'default', certificateName: 'default' },
      tlsCertificateCertificateProviderInstance: { instanceName: 'default', certificateName: 'default' },
      validationContext: {
        caCertificateProviderInstance: { instanceName: 'default', certificateName: 'ROOTCA' },
        matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/shop/sa/reviews' }],
      },
    });
    const server = proxylessDownstreamTransportSocket('STRICT');
    expect(typedConfigProblems(contextOf(server))).toEqual([]);
    expect(contextOf(server).requireClientCertificate).toEqual({ value: true });
    expect(proxylessDownstreamTransportSocket('PERMISSIVE')).toBeUndefined();
    expect(proxylessDownstreamTransportSocket('DISABLE')).toBeUndefined();
  });

  it('bootstrap certificate_providers uses the file_watcher plugin', () => {
    expect(fileWatcherCertificateProviders({ certificateFile: '/c.pem', privateKeyFile: '/k.pem', caCertificateFile: '/ca.pem' })).toEqual({
      default: {
        plugin_name: 'file_watcher',
        config: { certificate_file: '/c.pem', private_key_file: '/k.pem', ca_certificate_file: '/ca.pem', refresh_interval: '900s' },
      },
    });
  });
});
