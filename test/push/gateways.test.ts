// How a router proxy's Gateways merge into listeners and routes, and which
// proxies Gateway, VirtualService and Secret changes reach.
import { describe, expect, it } from 'vitest';
import { mergeGateways } from '../../src/push/gateways.js';
import { PushContext, defaultPushContextOptions } from '../../src/push/pushContext.js';
import { changeImpact } from '../../src/push/changes.js';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { intersectHosts } from '../../src/xds/gen/gateway/routes.js';
import { configFromFlags, addServeFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';
import { Command } from 'commander';
import type { ModelChange } from '../../src/model/meshModel.js';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { captureLogger } from '../support/captureLogger.js';
import { opensslServingCertificate } from '../support/ca.js';

const router = (name: string, namespace: string, labels: Record<string, string>) =>
  proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } }, 'router');
const sidecar = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } } });
const short = (types: ReadonlySet<string> | 'all') => (types === 'all' ? 'all' : [...types].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort());

const gateway = (name: string, namespace: string, selector: string, servers: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: ${selector}
  servers: ${servers}
---
`;

describe('merging Gateways for a router', () => {
  it('binds a server port to the targetPort of the gateway Service port it matches, else to the port itself', () => {
    const { context } = meshFromYaml(`apiVersion: v1
kind: Service
metadata: {name: ingress, namespace: istio-system}
spec: {clusterIP: 10.96.0.20, selector: {istio: ingress}, ports: [{name: http2, port: 80, targetPort: 8080}]}
---
${gateway(
  'gw',
  'istio-system',
  '{istio: ingress}',
  `
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}
  - {port: {number: 9000, name: http-admin, protocol: HTTP}, hosts: ['*']}`,
)}`);
    const merged = mergeGateways(context, router('ingress-1', 'istio-system', { istio: 'ingress' }));
    expect(merged.listeners.map((l) => [l.name, l.servers.map((s) => s.routeName)])).toEqual([
      ['0.0.0.0_8080', ['http.8080']],
      ['0.0.0.0_9000', ['http.9000']],
    ]);
  });

  it('shares an HTTP port among Gateways, and skips a server of another protocol class on a taken port', () => {
    const { context } = meshFromYaml(
      gateway('a', 'istio-system', '{istio: ingress}', `\n  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}`) +
        gateway('b', 'apps', '{istio: ingress}', `\n  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [b.example.com]}`) +
        gateway(
          'c',
          'apps',
          '{istio: ingress}',
          `\n  - {port: {number: 80, name: https, protocol: HTTPS}, hosts: [c.example.com], tls: {mode: SIMPLE, credentialName: c}}`,
        ),
    );
    const merged = mergeGateways(context, router('ingress-1', 'istio-system', { istio: 'ingress' }));
    expect(merged.listeners.map((l) => [l.name, l.servers.map((s) => s.gatewayKey)])).toEqual([['0.0.0.0_80', ['apps/b', 'istio-system/a']]]);
    expect(merged.conflicts).toEqual(['Gateway apps/c server port 80 (HTTPS) conflicts with another server on listener 0.0.0.0_80: skipped']);
  });

  it("uses only the router's own namespace's Gateways when scoped to it (PILOT_SCOPE_GATEWAY_TO_NAMESPACE)", () => {
    const mesh = meshFromYaml(
      gateway('own', 'istio-system', '{istio: ingress}', `\n  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}`) +
        gateway('foreign', 'apps', '{istio: ingress}', `\n  - {port: {number: 81, name: http, protocol: HTTP}, hosts: ['*']}`),
    );
    const proxy = router('ingress-1', 'istio-system', { istio: 'ingress' });
    expect(mergeGateways(mesh.context, proxy).listeners.map((l) => l.name)).toEqual(['0.0.0.0_80', '0.0.0.0_81']);
    const scoped = new PushContext(mesh.model.snapshot(), { ...defaultPushContextOptions, scopeGatewayToNamespace: true });
    expect(mergeGateways(scoped, proxy).listeners.map((l) => l.name)).toEqual(['0.0.0.0_80']);
    const parse = (env: NodeJS.ProcessEnv) => {
      const flags = addServeFlags(new Command('serve')).parse(['--config-dir', '/tmp'], { from: 'user' }).opts<ServeFlags>();
      return configFromFlags(flags, env).scopeGatewayToNamespace;
    };
    expect([parse({}), parse({ PILOT_SCOPE_GATEWAY_TO_NAMESPACE: 'true' })]).toEqual([false, true]);
  });
});

describe('gateway routes', () => {
  it('intersects hosts keeping the more specific of each matching pair', () => {
    expect(intersectHosts(['*.example.com'], ['a.example.com', 'b.other.com'])).toEqual(['a.example.com']);
    expect(intersectHosts(['a.example.com', 'b.example.com'], ['*.example.com'])).toEqual(['a.example.com', 'b.example.com']);
    expect(intersectHosts(['*'], ['*.example.com'])).toEqual(['*.example.com']);
  });

  it('gives an httpsRedirect server its hosts requiring TLS, and a port without virtual hosts the 404 blackhole host', () => {
    const { context } = meshFromYaml(
      gateway(
        'gw',
        'istio-system',
        '{istio: ingress}',
        `
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com, ./www.example.com], tls: {httpsRedirect: true}}
  - {port: {number: 81, name: http-nothing, protocol: HTTP}, hosts: [none.example.com]}`,
      ),
    );
    const generator = new GatewayGenerator(() => context);
    const { routes } = generator.describe(context, router('ingress-1', 'istio-system', { istio: 'ingress' }));
    expect(
      routes.map((r) => [
        r.name,
        (r.virtualHosts as { name: string; domains: string[]; requireTls?: string; routes?: unknown[] }[]).map((v) => [
          v.name,
          v.domains,
          v.requireTls ?? null,
          v.routes ?? [],
        ]),
      ]),
    ).toEqual([
      [
        'http.80',
        [
          ['shop.example.com:80', ['shop.example.com'], 'ALL', []],
          ['www.example.com:80', ['www.example.com'], 'ALL', []],
        ],
      ],
      ['http.81', [['blackhole:81', ['*'], null, []]]],
    ]);
  });

  it('logs a server whose credential is missing once, and builds its other servers', () => {
    const { context } = meshFromYaml(
      gateway(
        'gw',
        'istio-system',
        '{istio: ingress}',
        `
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: gone}}
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}`,
      ),
    );
    const { logger, lines } = captureLogger('warn');
    const generator = new GatewayGenerator(() => context, logger);
    const proxy = router('ingress-1', 'istio-system', { istio: 'ingress' });
    const watched = { typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener', wildcard: true, names: new Set<string>() };
    expect(generator.generate(proxy, watched)!.map((l) => l.name)).toEqual(['0.0.0.0_80']);
    generator.generate(router('ingress-2', 'istio-system', { istio: 'ingress' }), watched);
    expect(lines.map((l) => l.msg)).toEqual([
      'Gateway istio-system/gw server on port 443 (https) is not served by gateways in namespace istio-system: Secret istio-system/gone not found; its other servers keep serving',
    ]);
  });
});

describe('gateway change impact', () => {
  const { context } = meshFromYaml(
    gateway(
      'gw',
      'istio-system',
      '{istio: ingress}',
      `
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: shop-tls}}`,
    ),
  );
  const ingress = router('ingress-1', 'istio-system', { istio: 'ingress' });
  const other = router('egress-1', 'istio-system', { istio: 'egress' });
  const elsewhere = router('ingress-9', 'apps', { istio: 'ingress' });
  const secret = (name: string, namespace: string): ModelChange => ({
    kind: 'Secret',
    namespace,
    name,
    current: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } },
  });

  it('a Gateway reaches routers only, for listeners, routes and secrets', () => {
    const impact = changeImpact(
      {
        kind: 'Gateway',
        namespace: 'istio-system',
        name: 'gw',
        current: { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-system' }, spec: {} },
      },
      context,
      context,
    );
    expect(short(impact.types)).toEqual(['Listener', 'RouteConfiguration', 'Secret']);
    expect([impact.affects!(ingress), impact.affects!(sidecar)]).toEqual([true, false]);
  });

  it('a credential Secret (or its -cacert) reaches only the routers of its namespace whose Gateways use it; other Secrets reach nobody', () => {
    // Unchanged validity (here: missing before and after) changes the secret only; one that becomes valid changes the chains too.
    const pair = opensslServingCertificate('a.example.com');
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const { context: withSecret } = meshFromYaml(`${gateway(
      'gw',
      'istio-system',
      '{istio: ingress}',
      `
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: shop-tls}}`,
    )}---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls, namespace: istio-system}
data: {tls.crt: ${b64(pair.cert)}, tls.key: ${b64(pair.key)}, ca.crt: ${b64(pair.cert)}}
`);
    for (const name of ['shop-tls', 'shop-tls-cacert']) {
      const impact = changeImpact(secret(name, 'istio-system'), context, context);
      expect(short(impact.types)).toEqual(['Secret']);
      expect(impact.secretsOf).toEqual([...new Set([name, 'shop-tls'])].map((n) => ({ namespace: 'istio-system', name: n })));
      expect([ingress, other, elsewhere, sidecar].map((p) => impact.affects!(p))).toEqual([true, false, false, false]);
    }
    const appeared = changeImpact(secret('shop-tls', 'istio-system'), context, withSecret);
    expect(short(appeared.types)).toEqual(['Listener', 'Secret']);
    expect([ingress, other, elsewhere, sidecar].map((p) => appeared.affects!(p))).toEqual([true, false, false, false]);
    const unrelated = changeImpact(secret('default-token-abc', 'istio-system'), context, context);
    expect(short(unrelated.types)).toEqual([]);
  });
});

describe('requests a gateway makes', () => {
  it('for names it has no Secret or route configuration of do not grow the push context cache', () => {
    const { context } = meshFromYaml(
      gateway(
        'gw',
        'istio-system',
        '{istio: ingress}',
        `
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: gone}}`,
      ),
    );
    const generator = new GatewayGenerator(() => context);
    const proxy = router('ingress-1', 'istio-system', { istio: 'ingress' });
    const ask = (typeUrl: string, prefix: string) =>
      generator.generate(proxy, { typeUrl, wildcard: false, names: new Set(Array.from({ length: 500 }, (_, i) => `${prefix}${i}`)) });
    ask('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', 'kubernetes://nothing-');
    ask('type.googleapis.com/envoy.config.route.v3.RouteConfiguration', 'http.');
    const size = context.cache.size;
    expect(ask('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', 'kubernetes://other-')).toEqual([]);
    expect(ask('type.googleapis.com/envoy.config.route.v3.RouteConfiguration', 'https.')).toEqual([]);
    expect(context.cache.size).toBe(size);
  });
});
