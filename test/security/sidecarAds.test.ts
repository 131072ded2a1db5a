// meshd (file source) over a raw ADS stream that ACKs like Envoy: security
// objects written while the sidecar is connected change its inbound
// listener (PERMISSIVE → STRICT, RBAC and jwt_authn added and removed), an
// invalid update is rejected and the last valid version keeps serving, and
// every pushed listener passes Envoy's proto and validation-rule checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/model/kube.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, sidecarNode, type ReceivedResource } from '../support/adsClient.js';
import { envoyProblems } from '../support/envoyValidation.js';
import { startGrpcMesh, type GrpcMesh } from '../support/grpcXdsMesh.js';
import { waitFor } from '../support/captureLogger.js';
import { meshctl } from '../support/meshctl.js';

type Json = Record<string, unknown>;
const reviews: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: {
      clusterIP: '10.96.0.10',
      selector: { app: 'reviews' },
      ports: [
        { name: 'http', port: 9080 },
        { name: 'tcp-admin', port: 9900 },
      ],
    },
  },
];
const security = (kind: string, name: string, spec: unknown, namespace = 'shop'): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind,
  metadata: { name, namespace },
  spec,
});
const allowWeb = (ipBlocks: string[] = ['10.0.0.0/8']): KubeObject =>
  security('AuthorizationPolicy', 'reviews-from-web', {
    selector: { matchLabels: { app: 'reviews' } },
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'], ipBlocks } }] }],
  });

interface Chain {
  name: string;
  tls: boolean;
  requireClientCertificate: boolean;
  filters: string[];
  rbacPolicies: string[];
}

function inboundChains(listener: ReceivedResource): Chain[] {
  return ((listener.body.filterChains as Json[]) ?? [])
    .filter((c) => String(c.name).startsWith('0.0.0.0_'))
    .map((c) => {
      const filters = (c.filters as Json[]).flatMap((f) => {
        const typed = f.typedConfig as Json;
        return typed.httpFilters ? (typed.httpFilters as Json[]).map((h) => String(h.name)) : [String(f.name)];
      });
      const rbacPolicies = [...JSON.stringify(c.filters).matchAll(/"(ns\[[^"]+)"/g)].map((m) => m[1]!);
      const context = (c.transportSocket as { typedConfig?: Json } | undefined)?.typedConfig;
      return {
        name: String(c.name),
        tls: Boolean(context),
        requireClientCertificate: (context?.requireClientCertificate as { value?: boolean } | undefined)?.value === true,
        filters,
        rbacPolicies,
      };
    });
}

describe('sidecar inbound security over ADS', () => {
  let mesh: GrpcMesh;
  let client: AdsTestClient;
  const node = sidecarNode('reviews', 'shop');

  /** The next virtualInbound pushed (ACKing every response like Envoy), checked against Envoy's protos. */
  async function nextInbound(): Promise<ReceivedResource> {
    for (;;) {
      const response = await client.next(15_000);
      client.ack(response);
      if (response.typeUrl !== TypeUrl.Listener) continue;
      const inbound = response.resources.find((r) => r.name === 'virtualInbound')!;
      const { ['@type']: _t, ...body } = inbound.body;
      expect(envoyProblems(TypeUrl.Listener, body)).toEqual([]);
      return inbound;
    }
  }

  /** Reads pushes until the inbound chains satisfy `accept` (pushes may coalesce or come one by one). */
  async function inboundUntil(accept: (chains: Chain[]) => boolean, what: string): Promise<Chain[]> {
    const deadline = Date.now() + 15_000;
    let last: Chain[] = [];
    while (Date.now() < deadline) {
      last = inboundChains(await nextInbound());
      if (accept(last)) return last;
    }
    throw new Error(`timed out waiting for ${what}; last chains: ${JSON.stringify(last)}`);
  }

  beforeAll(async () => {
    mesh = await startGrpcMesh({ 'mesh.yaml': reviews });
    client = new AdsTestClient(mesh.xdsAddress, 'sotw', node);
    client.request(TypeUrl.Listener);
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await mesh?.close();
  });

  it('starts PERMISSIVE: an mTLS chain and a plaintext chain per port, no RBAC', async () => {
    const chains = inboundChains(await nextInbound());
    expect(chains.map((c) => [c.name, c.tls])).toEqual([
      ['0.0.0.0_9080-mtls', true],
      ['0.0.0.0_9080', false],
      ['0.0.0.0_9900-mtls', true],
      ['0.0.0.0_9900-tls', false],
      ['0.0.0.0_9900', false],
    ]);
    expect(chains.every((c) => !c.filters.some((f) => f.includes('rbac')))).toBe(true);
  });

  it('turns STRICT when a mesh-wide PeerAuthentication appears: TLS chains only, client certificate required', async () => {
    await mesh.write('peer.yaml', [security('PeerAuthentication', 'default', { mtls: { mode: 'STRICT' } }, 'istio-system')]);
    const chains = inboundChains(await nextInbound());
    expect(chains.map((c) => [c.name, c.tls, c.requireClientCertificate])).toEqual([
      ['0.0.0.0_9080-mtls', true, true],
      ['0.0.0.0_9900-mtls', true, true],
    ]);
  });

  it('adds jwt_authn and RBAC to HTTP chains and network RBAC to TCP chains', async () => {
    await mesh.write('authz.yaml', [
      allowWeb(),
      security('RequestAuthentication', 'reviews-jwt', {
        selector: { matchLabels: { app: 'reviews' } },
        jwtRules: [{ issuer: 'https://issuer.example', jwksUri: 'https://keys.example.com/jwks.json' }],
      }),
    ]);
    const chains = inboundChains(await nextInbound());
    expect(chains[0]!.filters).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(chains[1]!.filters).toEqual(['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    expect(chains[0]!.rbacPolicies).toEqual(['ns[shop]-policy[reviews-from-web]-rule[0]']);
  });

  it('rejects an invalid update with its name and reason and keeps serving the last valid policy', async () => {
    await mesh.write('authz.yaml', [allowWeb(['10.0.0.0/40'])]);
    // The RequestAuthentication left the file (a valid change); the AuthorizationPolicy update is rejected.
    const chains = await inboundUntil((c) => !c[0]!.filters.includes('envoy.filters.http.jwt_authn'), 'jwt_authn to go');
    expect(chains[0]!.rbacPolicies).toEqual(['ns[shop]-policy[reviews-from-web]-rule[0]']);
    await waitFor(
      () =>
        mesh.logs.lines.some(
          (l) => String(l.msg).includes('rejected invalid AuthorizationPolicy shop/reviews-from-web') && String(l.msg).includes('10.0.0.0/40'),
        ),
      'the rejection to be logged',
      10_000,
    );
    const dump = JSON.stringify(await mesh.configDump(node.id));
    expect(dump).toContain('ns[shop]-policy[reviews-from-web]-rule[0]');
    expect(dump).toContain('"addressPrefix":"10.0.0.0"');
  });

  it('shows both with meshctl, as the README says: the rejection in analyze, mTLS chains and RBAC policies in proxy-config', async () => {
    const analyze = await meshctl(['--server', mesh.httpUrl, 'analyze']);
    expect(analyze.code).toBe(1);
    expect(analyze.stdout).toContain('IST0106');
    expect(analyze.stdout).toContain('AuthorizationPolicy shop/reviews-from-web');
    const listeners = await meshctl(['--server', mesh.httpUrl, 'proxy-config', 'listener', 'reviews.shop', '-o', 'json']);
    expect(listeners.code).toBe(0);
    const inbound = (JSON.parse(listeners.stdout) as Json[]).find((l) => l.name === 'virtualInbound')!;
    const chains = inboundChains({ name: 'virtualInbound', typeUrl: TypeUrl.Listener, body: inbound });
    expect(chains.map((c) => [c.name, c.tls])).toEqual([
      ['0.0.0.0_9080-mtls', true],
      ['0.0.0.0_9900-mtls', true],
    ]);
    expect(chains[0]!.rbacPolicies).toEqual(['ns[shop]-policy[reviews-from-web]-rule[0]']);
    const secrets = await meshctl(['--server', mesh.httpUrl, 'proxy-config', 'secret', 'reviews.shop']);
    expect(secrets.stdout).toContain('default');
    expect(secrets.stdout).toContain('ROOTCA');
  });

  it('removing the policies restores the chains without the filters', async () => {
    // Emptying the file deletes its objects (the file source does not see a plain unlink reliably).
    await mesh.write('authz.yaml', []);
    const chains = await inboundUntil((c) => c[0]!.rbacPolicies.length === 0, 'the RBAC filters to go');
    expect(chains.map((c) => c.filters)).toEqual([['envoy.filters.http.router'], ['envoy.filters.network.tcp_proxy']]);
  });
});
