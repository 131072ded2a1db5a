// PeerAuthentication resolution (mesh, namespace, workload, port level, UNSET
// inheritance) and the inbound filter chains each mode produces, encoded in a
// real Listener against Envoy's protos.
import { describe, expect, it } from 'vitest';
import {
  composePeerAuthentication,
  inboundChainOptions,
  mtlsModeForPort,
  peerAuthenticationForWorkload,
  type EffectiveMtlsMode,
  type PeerAuthentication,
  type PeerAuthenticationSpec,
} from '../../src/security/index.js';
import type { Json } from '../../src/xds/gen/common/json.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { envoyProblems } from '../support/envoyValidation.js';
import { typedConfigProblems } from '../support/envoyTypedConfig.js';

const pa = (namespace: string, name: string, spec: PeerAuthenticationSpec, creationTimestamp?: string): PeerAuthentication => ({
  namespace,
  name,
  spec,
  ...(creationTimestamp ? { creationTimestamp } : {}),
});
const workload = { namespace: 'shop', labels: { app: 'cart', version: 'v1' } };
const mode = (policies: PeerAuthentication[], port = 8080): EffectiveMtlsMode =>
  mtlsModeForPort(peerAuthenticationForWorkload(policies, workload, 'istio-system'), port);

describe('PeerAuthentication resolution', () => {
  it('is PERMISSIVE without any policy', () => {
    expect(composePeerAuthentication('istio-system', [])).toEqual({ mode: 'PERMISSIVE', perPort: new Map() });
  });

  it('takes the narrowest scope: workload over namespace over mesh (root namespace)', () => {
    const mesh = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });
    const namespace = pa('shop', 'default', { mtls: { mode: 'PERMISSIVE' } });
    const workloadPolicy = pa('shop', 'cart', { selector: { matchLabels: { app: 'cart' } }, mtls: { mode: 'DISABLE' } });
    expect(mode([mesh])).toBe('STRICT');
    expect(mode([mesh, namespace])).toBe('PERMISSIVE');
    expect(mode([mesh, namespace, workloadPolicy])).toBe('DISABLE');
  });

  it('inherits UNSET (and a missing mtls) from the parent scope', () => {
    const mesh = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });
    expect(mode([mesh, pa('shop', 'default', { mtls: { mode: 'UNSET' } })])).toBe('STRICT');
    expect(mode([mesh, pa('shop', 'cart', { selector: { matchLabels: { app: 'cart' } } })])).toBe('STRICT');
  });

  it('applies port-level modes to their port only, UNSET ports inheriting the workload mode', () => {
    const policies = [
      pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
      pa('shop', 'cart', {
        selector: { matchLabels: { app: 'cart' } },
        mtls: { mode: 'PERMISSIVE' },
        portLevelMtls: { '9090': { mode: 'DISABLE' }, '9091': { mode: 'UNSET' } },
      }),
    ];
    expect(mode(policies, 9090)).toBe('DISABLE');
    expect(mode(policies, 9091)).toBe('PERMISSIVE');
    expect(mode(policies, 8080)).toBe('PERMISSIVE');
  });

  it('ignores policies of other namespaces, non-matching selectors and workload-level policies in the root namespace', () => {
    expect(mode([pa('other', 'default', { mtls: { mode: 'STRICT' } })])).toBe('PERMISSIVE');
    expect(mode([pa('shop', 'x', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' } })])).toBe('PERMISSIVE');
    expect(mode([pa('istio-system', 'x', { selector: { matchLabels: { app: 'cart' } }, mtls: { mode: 'STRICT' } })])).toBe('PERMISSIVE');
  });

  it('lets the oldest policy win within one scope', () => {
    const newer = pa('shop', 'b-newer', { mtls: { mode: 'DISABLE' } }, '2024-02-01T00:00:00Z');
    const older = pa('shop', 'z-older', { mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00Z');
    expect(mode([newer, older])).toBe('STRICT');
    expect(mode([older, newer])).toBe('STRICT');
  });
});

/** A virtualInbound-like listener with one chain per option, as a generator would assemble it. */
function listenerFor(options: ReturnType<typeof inboundChainOptions>): Json {
  return {
    name: 'virtualInbound',
    address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
    listenerFilters: [
      {
        name: 'envoy.filters.listener.tls_inspector',
        typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
      },
    ],
    filterChains: options.map((o, i) => ({
      name: `inbound-chain-${i}`,
      filterChainMatch: { destinationPort: { value: 8080 }, ...o.match },
      filters: [
        {
          name: 'envoy.filters.network.tcp_proxy',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
            statPrefix: 'inbound|8080||',
            cluster: 'inbound|8080||',
          },
        },
      ],
      ...(o.transportSocket ? { transportSocket: o.transportSocket } : {}),
    })),
  };
}

describe('inbound filter chains per mode', () => {
  it('STRICT: only TLS chains, each requiring a client certificate from SDS default/ROOTCA', () => {
    for (const protocol of ['http', 'tcp', 'auto'] as const) {
      const options = inboundChainOptions('STRICT', protocol);
      expect(options.every((o) => o.match.transportProtocol === 'tls' && o.transportSocket)).toBe(true);
      expect(envoyProblems(TypeUrl.Listener, listenerFor(options))).toEqual([]);
    }
    const [chain] = inboundChainOptions('STRICT', 'http');
    const context = (chain!.transportSocket as { typedConfig: Json }).typedConfig;
    expect(typedConfigProblems(context)).toEqual([]);
    expect(context).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      requireClientCertificate: { value: true },
      commonTlsContext: {
        alpnProtocols: ['h2', 'http/1.1'],
        tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: { apiConfigSource: { grpcServices: [{ envoyGrpc: { clusterName: 'sds-grpc' } }] } } }],
        combinedValidationContext: { validationContextSdsSecretConfig: { name: 'ROOTCA' } },
      },
    });
    const tcpContext = (inboundChainOptions('STRICT', 'tcp')[0]!.transportSocket as { typedConfig: Json }).typedConfig;
    expect((tcpContext.commonTlsContext as Json).alpnProtocols).toEqual(['istio-peer-exchange', 'h2', 'http/1.1']);
  });

  it('PERMISSIVE: an mTLS chain matched on Istio ALPNs plus the plaintext chain', () => {
    const httpOptions = inboundChainOptions('PERMISSIVE', 'http');
    expect(httpOptions.map((o) => [o.match, Boolean(o.transportSocket)])).toEqual([
      [{ transportProtocol: 'tls', applicationProtocols: ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'] }, true],
      [{ transportProtocol: 'raw_buffer' }, false],
    ]);
    expect(inboundChainOptions('PERMISSIVE', 'tcp').map((o) => Boolean(o.transportSocket))).toEqual([true, false, false]);
    for (const protocol of ['http', 'tcp', 'auto'] as const) {
      expect(envoyProblems(TypeUrl.Listener, listenerFor(inboundChainOptions('PERMISSIVE', protocol)))).toEqual([]);
    }
  });

  it('DISABLE: plaintext chains only', () => {
    for (const protocol of ['http', 'tcp', 'auto'] as const) {
      const options = inboundChainOptions('DISABLE', protocol);
      expect(options.every((o) => o.match.transportProtocol === 'raw_buffer' && !o.transportSocket)).toBe(true);
      expect(envoyProblems(TypeUrl.Listener, listenerFor(options))).toEqual([]);
    }
  });
});
