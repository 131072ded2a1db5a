// The Gateway API translation (src/push/gatewayApi/): hostnames, allowedRoutes,
// matches, filters, ReferenceGrants and the status conditions the spec names.
import { describe, expect, it } from 'vitest';
import { intersectHostname, routeHostnames } from '../../src/push/gatewayApi/hostnames.js';
import { convertGrpcRule, convertHttpRule, gatewayDuration, type ResolveBackend } from '../../src/push/gatewayApi/routeRules.js';
import type { DesiredStatus } from '../../src/push/gatewayApi/translate.js';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { analyzeMesh } from '../../src/analysis/index.js';
import { loadGoldenMesh, meshFromYaml } from '../support/goldenMesh.js';
import { opensslServingCertificate, tlsSecretYaml } from '../support/ca.js';

const resolve: ResolveBackend = (ref) => ({
  ok: true,
  destination: { host: `${ref.name}.${ref.namespace ?? 'shop'}.svc.cluster.local`, port: { number: ref.port ?? 80 } },
});

const base = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {team: other}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.1.10, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: payments}
spec: {clusterIP: 10.96.1.20, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: edge-1, namespace: ingress, labels: {gateway.networking.k8s.io/gateway-name: edge}, annotations: {golden.meshd.io/proxy: router}}
status: {podIP: 10.1.0.7}
`;

function gateway(listeners: string, extra = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress, generation: 3}
spec:
  gatewayClassName: istio
  listeners:
${listeners}
${extra}`;
}

function route(namespace: string, spec: string, name = 'web'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${namespace}, generation: 2}
spec:
${spec}
`;
}

const statusOf = (statuses: readonly DesiredStatus[], kind: string, name: string) =>
  statuses.find((s) => s.kind === kind && s.name === name)?.status as Record<string, any>;
const parentConditions = (statuses: readonly DesiredStatus[], name = 'web') =>
  Object.fromEntries(
    (statusOf(statuses, 'HTTPRoute', name).parents[0].conditions as { type: string; status: string; reason: string }[]).map((c) => [
      c.type,
      `${c.status}/${c.reason}`,
    ]),
  );
const listenerConditions = (statuses: readonly DesiredStatus[], listener: string) =>
  Object.fromEntries(
    (statusOf(statuses, 'KubernetesGateway', 'edge').listeners as any[])
      .find((l) => l.name === listener)
      .conditions.map((c: any) => [c.type, `${c.status}/${c.reason}`]),
  );

const mesh = (...docs: string[]) => meshFromYaml([base, ...docs].join('---\n'));

describe('hostname intersection', () => {
  it('follows the spec: exact, wildcard either side, no overlap', () => {
    expect(intersectHostname(undefined, 'a.example.com')).toBe('a.example.com');
    expect(intersectHostname('*.example.com', 'a.example.com')).toBe('a.example.com');
    expect(intersectHostname('a.example.com', '*.example.com')).toBe('a.example.com');
    expect(intersectHostname('*.example.com', '*.example.com')).toBe('*.example.com');
    expect(intersectHostname('*.example.com', 'example.com')).toBeUndefined();
    expect(intersectHostname('a.example.com', 'b.example.com')).toBeUndefined();
    expect(routeHostnames('*.example.com', ['a.example.com', 'other.org', 'b.example.com'])).toEqual(['a.example.com', 'b.example.com']);
    expect(routeHostnames('shop.example.com', undefined)).toEqual(['shop.example.com']);
    expect(routeHostnames(undefined, [])).toEqual(['*']);
  });
});

describe('route rules', () => {
  it('converts path, header, query and method matches, one VirtualService route per match', () => {
    const { routes } = convertHttpRule(
      {
        matches: [
          { path: { type: 'Exact', value: '/a' }, method: 'POST' },
          {
            path: { type: 'PathPrefix', value: '/b/' },
            headers: [
              { name: 'X-A', value: 'x' },
              { type: 'RegularExpression', name: 'X-B', value: 'v[0-9]' },
            ],
          },
          { path: { type: 'RegularExpression', value: '/c/.*' }, queryParams: [{ name: 'Q', value: '1' }] },
        ],
        backendRefs: [{ name: 'web', port: 80 }],
      },
      0,
      'shop',
      'web',
      resolve,
    );
    expect(routes.map((r) => r.route.match)).toEqual([
      [{ uri: { exact: '/a' }, method: { exact: 'POST' } }],
      [{ uri: { prefix: '/b' }, headers: { 'x-a': { exact: 'x' }, 'x-b': { regex: 'v[0-9]' } } }],
      [{ uri: { regex: '/c/.*' }, queryParams: { Q: { exact: '1' } } }],
    ]);
    expect(routes.every((r) => r.route.name === 'shop.web.0')).toBe(true);
    expect(routes[0]!.route.route).toEqual([{ destination: { host: 'web.shop.svc.cluster.local', port: { number: 80 } } }]);
  });

  it('converts header modifiers, rewrite, mirror, redirect and timeouts', () => {
    const { routes, problems } = convertHttpRule(
      {
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { set: [{ name: 'X-Set', value: '1' }], add: [{ name: 'X-Add', value: '2' }], remove: ['X-Gone'] },
          },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['Server'] } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'internal', path: { type: 'ReplaceFullPath', replaceFullPath: '/new' } } },
          { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 1, denominator: 4 } } },
        ],
        backendRefs: [
          { name: 'web', port: 80, weight: 3 },
          { name: 'web-v2', port: 80, weight: 1 },
          { name: 'off', port: 80, weight: 0 },
        ],
        timeouts: { request: '1m30s', backendRequest: '500ms' },
      },
      2,
      'shop',
      'web',
      resolve,
    );
    expect(problems).toEqual([]);
    expect(routes[0]!.route).toEqual({
      name: 'shop.web.2',
      headers: { request: { set: { 'x-set': '1' }, add: { 'x-add': '2' }, remove: ['x-gone'] }, response: { remove: ['server'] } },
      rewrite: { authority: 'internal', uriRegexRewrite: { match: '/.*', rewrite: '/new' } },
      mirrors: [{ destination: { host: 'shadow.shop.svc.cluster.local', port: { number: 80 } }, percentage: { value: 25 } }],
      route: [
        { destination: { host: 'web.shop.svc.cluster.local', port: { number: 80 } }, weight: 3 },
        { destination: { host: 'web-v2.shop.svc.cluster.local', port: { number: 80 } }, weight: 1 },
      ],
      timeout: '90s',
    });
    const redirect = convertHttpRule(
      { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: 8443, path: { type: 'ReplaceFullPath', replaceFullPath: '/x' } } }] },
      0,
      'shop',
      'r',
      resolve,
    );
    expect(redirect.routes[0]!.route).toEqual({ name: 'shop.r.0', redirect: { scheme: 'https', port: 8443, uri: '/x', redirectCode: 302 } });
    expect(gatewayDuration('1h2m3s4ms')).toBe('3723.004s');
  });

  it('answers 500 when no backend is valid, and reports why', () => {
    const failing: ResolveBackend = () => ({ ok: false, reason: 'BackendNotFound', message: 'Service shop/gone not found' });
    const { routes, problems } = convertHttpRule({ backendRefs: [{ name: 'gone', port: 80 }] }, 0, 'shop', 'web', failing);
    expect(routes[0]!.route).toEqual({ name: 'shop.web.0', directResponse: { status: 500 } });
    expect(problems).toEqual([{ reason: 'BackendNotFound', message: 'Service shop/gone not found' }]);
  });

  it('converts GRPCRoute method matches to gRPC paths', () => {
    const { routes } = convertGrpcRule(
      {
        matches: [
          { method: { service: 'shop.Cart', method: 'Add' } },
          { method: { service: 'shop.Cart' } },
          { method: { type: 'RegularExpression', service: 'shop\\..*' } },
        ],
        backendRefs: [{ name: 'cart', port: 9090 }],
      },
      0,
      'shop',
      'cart',
      resolve,
    );
    expect(routes.map((r) => r.route.match?.[0]?.uri)).toEqual([{ exact: '/shop.Cart/Add' }, { prefix: '/shop.Cart/' }, { regex: '/shop\\..*/[^/]+' }]);
  });
});

describe('cross-namespace certificateRefs', () => {
  const pair = opensslServingCertificate('shop.example.com');
  const secret = (name: string) => tlsSecretYaml(name, 'shop', pair);
  const grant = (from: { kind: string; namespace: string }, toName?: string) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: certs, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: ${from.kind}, namespace: ${from.namespace}}]
  to: [{group: "", kind: Secret${toName ? `, name: ${toName}` : ''}}]
`;
  const https = `  - {name: https, port: 443, protocol: HTTPS, hostname: shop.example.com, tls: {certificateRefs: [{name: shop-cert, namespace: shop}]}}`;
  const sdsName = 'kubernetes-gateway://shop/shop-cert';
  const generated = (m: ReturnType<typeof mesh>, typeUrl: string, names: string[] = []) =>
    (new GatewayGenerator(() => m.context).generate(m.routers[0]!, { typeUrl, wildcard: names.length === 0, names: new Set(names) }) ?? []).map((r) => ({
      name: r.name,
      body: decodeAnyToJson(r.any) as any,
    }));

  it("serves a Secret of another namespace only when a ReferenceGrant there allows the Gateway, under istiod's kubernetes-gateway:// name", () => {
    const granted = mesh(gateway(https), secret('shop-cert'), secret('other-cert'), grant({ kind: 'Gateway', namespace: 'ingress' }, 'shop-cert'));
    expect(listenerConditions(granted.context.gatewayApi.statuses, 'https')).toMatchObject({
      ResolvedRefs: 'True/ResolvedRefs',
      Programmed: 'True/Programmed',
    });
    expect(granted.context.gatewayApi.gateways.map((g) => g.spec.servers![0]!.tls)).toEqual([{ mode: 'SIMPLE', credentialName: sdsName }]);
    const lds = JSON.stringify(generated(granted, TypeUrl.Listener));
    expect(lds).toContain(`"name":"${sdsName}"`);
    const sds = generated(granted, TypeUrl.Secret, [sdsName, 'kubernetes-gateway://shop/other-cert', 'kubernetes://shop/shop-cert', 'kubernetes://shop-cert']);
    // Only the name its own server uses: not the namespace's other Secrets, not other spellings.
    expect(sds.map((r) => r.name)).toEqual([sdsName]);
    expect(Buffer.from(sds[0]!.body.tlsCertificate.certificateChain.inlineBytes, 'base64').toString()).toBe(pair.cert);
    expect(generated(granted, TypeUrl.Secret).map((r) => r.name)).toEqual([sdsName]);
  });

  it('refuses it (RefNotPermitted, no listener, no secret) without a grant, with a grant for another Secret or another kind', () => {
    for (const grants of [
      [],
      [grant({ kind: 'Gateway', namespace: 'ingress' }, 'other-cert')],
      [grant({ kind: 'HTTPRoute', namespace: 'ingress' })],
      [grant({ kind: 'Gateway', namespace: 'other' })],
    ]) {
      const m = mesh(gateway(https), secret('shop-cert'), ...grants);
      expect(listenerConditions(m.context.gatewayApi.statuses, 'https')).toMatchObject({ ResolvedRefs: 'False/RefNotPermitted', Programmed: 'False/Invalid' });
      expect(m.context.gatewayApi.gateways).toEqual([]);
      expect(generated(m, TypeUrl.Listener)).toEqual([]);
      expect(generated(m, TypeUrl.Secret, [sdsName, 'kubernetes://shop/shop-cert'])).toEqual([]);
    }
  });

  it("keeps an Istio Gateway's credentialName to its own namespace, whatever the ReferenceGrants", () => {
    const istioGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: sneaky, namespace: ingress}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: edge}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: "${sdsName}"}
`;
    const m = mesh(istioGateway, secret('shop-cert'), grant({ kind: 'Gateway', namespace: 'ingress' }));
    expect(generated(m, TypeUrl.Listener)).toEqual([]);
    expect(generated(m, TypeUrl.Secret, [sdsName])).toEqual([]);
    expect(generated(m, TypeUrl.Secret)).toEqual([]);
  });
});

describe('Gateway API translation and status', () => {
  const http = `  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}`;

  it('refuses a backend in another namespace without a ReferenceGrant (RefNotPermitted, no route to it) and allows it with one', () => {
    const crossNamespace = route(
      'shop',
      `  parentRefs: [{name: edge, namespace: ingress}]
  rules:
  - backendRefs: [{name: payments, namespace: payments, port: 8080}]`,
    );
    const allowAll = `  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}`;
    const refused = mesh(gateway(allowAll), crossNamespace);
    expect(parentConditions(refused.context.gatewayApi.statuses)).toEqual({ Accepted: 'True/Accepted', ResolvedRefs: 'False/RefNotPermitted' });
    const rds = (m: typeof refused) =>
      JSON.stringify(
        (
          new GatewayGenerator(() => m.context).generate(m.routers[0]!, {
            typeUrl: TypeUrl.RouteConfiguration,
            wildcard: false,
            names: new Set(['http.80']),
          }) ?? []
        ).map((r) => decodeAnyToJson(r.any)),
      );
    expect(rds(refused)).not.toContain('payments');
    expect(rds(refused)).toContain('"directResponse":{"status":500}');

    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-shop, namespace: payments}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service}]
`;
    const granted = mesh(gateway(allowAll), crossNamespace, grant);
    expect(parentConditions(granted.context.gatewayApi.statuses)).toEqual({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(rds(granted)).toContain('outbound|8080||payments.payments.svc.cluster.local');
  });

  it('applies allowedRoutes namespaces Same, All and Selector', () => {
    const fromShop = route(
      'shop',
      `  parentRefs: [{name: edge, namespace: ingress}]
  rules: [{backendRefs: [{name: web, port: 80}]}]`,
    );
    expect(parentConditions(mesh(gateway(http), fromShop).context.gatewayApi.statuses).Accepted).toBe('False/NotAllowedByListeners');
    const all = `  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}`;
    expect(parentConditions(mesh(gateway(all), fromShop).context.gatewayApi.statuses).Accepted).toBe('True/Accepted');
    const selector = (team: string) =>
      `  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: ${team}}}}}}`;
    expect(parentConditions(mesh(gateway(selector('shop')), fromShop).context.gatewayApi.statuses).Accepted).toBe('True/Accepted');
    expect(parentConditions(mesh(gateway(selector('other')), fromShop).context.gatewayApi.statuses).Accepted).toBe('False/NotAllowedByListeners');
    const kindsOnly = `  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: GRPCRoute}]}}`;
    expect(parentConditions(mesh(gateway(kindsOnly), fromShop).context.gatewayApi.statuses).Accepted).toBe('False/NotAllowedByListeners');
  });

  it('reports NoMatchingParent, NoMatchingListenerHostname, BackendNotFound and attachedRoutes', () => {
    const statuses = mesh(
      gateway(http),
      route(
        'ingress',
        `  parentRefs: [{name: edge, sectionName: https}]
  rules: [{backendRefs: [{name: web, namespace: ingress, port: 80}]}]`,
        'no-section',
      ),
      route(
        'ingress',
        `  parentRefs: [{name: edge}]
  hostnames: [shop.example.org]
  rules: [{backendRefs: [{name: web, port: 80}]}]`,
        'wrong-host',
      ),
      route(
        'ingress',
        `  parentRefs: [{name: edge}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: missing, port: 80}]}]`,
        'missing-backend',
      ),
    ).context.gatewayApi.statuses;
    expect(parentConditions(statuses, 'no-section').Accepted).toBe('False/NoMatchingParent');
    expect(parentConditions(statuses, 'wrong-host').Accepted).toBe('False/NoMatchingListenerHostname');
    expect(parentConditions(statuses, 'missing-backend')).toEqual({ Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' });
    const gw = statusOf(statuses, 'KubernetesGateway', 'edge');
    expect(gw.listeners[0].attachedRoutes).toBe(1);
    expect(statusOf(statuses, 'HTTPRoute', 'missing-backend').parents[0]).toMatchObject({
      controllerName: 'istio.io/gateway-controller',
      parentRef: { name: 'edge' },
    });
    expect(statusOf(statuses, 'HTTPRoute', 'missing-backend').parents[0].conditions[0].observedGeneration).toBe(2);
  });

  it('checks listener certificates, route kinds and conflicts; Programmed follows the gateway Service address', () => {
    const listeners = `  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: missing-cert}]}}
  - {name: other-ns, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: cert, namespace: shop}]}}
  - {name: tcp-kinds, port: 9000, protocol: HTTP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
  - {name: a, port: 8080, protocol: HTTP, hostname: dup.example.com}
  - {name: b, port: 8080, protocol: HTTP, hostname: dup.example.com}
  - {name: c, port: 7000, protocol: HTTP}
  - {name: d, port: 7000, protocol: TCP}`;
    const service = `apiVersion: v1
kind: Service
metadata: {name: edge-istio, namespace: ingress}
spec: {clusterIP: 10.96.0.30, type: LoadBalancer, selector: {gateway.networking.k8s.io/gateway-name: edge}, ports: [{name: http, port: 80}]}
status: {loadBalancer: {ingress: [{ip: 203.0.113.7}]}}
`;
    const withoutService = mesh(gateway(listeners)).context;
    const statuses = withoutService.gatewayApi.statuses;
    expect(listenerConditions(statuses, 'https').ResolvedRefs).toBe('False/InvalidCertificateRef');
    expect(listenerConditions(statuses, 'https').Programmed).toBe('False/Invalid');
    expect(listenerConditions(statuses, 'other-ns').ResolvedRefs).toBe('False/RefNotPermitted');
    expect(listenerConditions(statuses, 'tcp-kinds').ResolvedRefs).toBe('False/InvalidRouteKinds');
    expect(listenerConditions(statuses, 'a').Conflicted).toBe('True/HostnameConflict');
    expect(listenerConditions(statuses, 'c').Conflicted).toBe('True/ProtocolConflict');
    expect(listenerConditions(statuses, 'tcp-kinds').Conflicted).toBe('False/NoConflicts');
    const gw = statusOf(statuses, 'KubernetesGateway', 'edge');
    expect(gw.conditions.map((c: any) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Accepted=True/Accepted', 'Programmed=False/AddressNotAssigned']);
    // Only valid, unconflicted listeners become Istio Gateways.
    expect(withoutService.gatewayApi.gateways.map((g) => g.name)).toEqual(['edge~istio-autogenerated-k8s-gateway~tcp-kinds']);

    const withService = statusOf(mesh(gateway(listeners), service).context.gatewayApi.statuses, 'KubernetesGateway', 'edge');
    expect(withService.addresses).toEqual([{ type: 'IPAddress', value: '203.0.113.7' }]);
    expect(withService.conditions[1]).toMatchObject({ type: 'Programmed', status: 'True', reason: 'Programmed', observedGeneration: 3 });
  });

  it('leaves Gateways of other classes alone, and accepts GatewayClass istio', () => {
    const foreign = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio}
spec: {controllerName: istio.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec: {gatewayClassName: other, listeners: [{name: http, port: 80, protocol: HTTP}]}
`;
    const context = mesh(foreign).context;
    expect(context.gatewayApi.gateways).toEqual([]);
    expect(context.gatewayApi.statuses.map((s) => `${s.kind}/${s.name}`)).toEqual(['GatewayClass/istio']);
  });

  const rdsOf = (m: ReturnType<typeof mesh>, name: string) =>
    (new GatewayGenerator(() => m.context).generate(m.routers[0]!, { typeUrl: TypeUrl.RouteConfiguration, wildcard: false, names: new Set([name]) }) ?? []).map(
      (r) => decodeAnyToJson(r.any) as any,
    );

  it('redirects with ReplacePrefixMatch as istiod does: Envoy prefixRewrite swaps the matched prefix', () => {
    const redirect = route(
      'ingress',
      `  parentRefs: [{name: edge}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 308}}]`,
    );
    const m = mesh(gateway(http), redirect);
    expect(parentConditions(m.context.gatewayApi.statuses)).toEqual({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    const routes = rdsOf(m, 'http.80')[0].virtualHosts.find((v: any) => v.domains.includes('shop.example.com')).routes;
    expect(routes[0].match.pathSeparatedPrefix).toBe('/old');
    expect(routes[0].redirect).toEqual({ prefixRewrite: '/new', responseCode: 'PERMANENT_REDIRECT' });

    // A VirtualService a user wrote keeps its uri as the path, marker and all (istiod: gateway semantics only).
    const istio = mesh(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: plain, namespace: ingress}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: edge}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain, namespace: ingress}
spec:
  hosts: [shop.example.com]
  gateways: [plain]
  http: [{redirect: {uri: "%PREFIX()%/new"}}]
`);
    const plain = rdsOf(istio, 'http.80')[0].virtualHosts.find((v: any) => v.domains.includes('shop.example.com')).routes;
    expect(plain[0].redirect.pathRedirect).toBe('%PREFIX()%/new');
    expect(plain[0].redirect.prefixRewrite).toBeUndefined();
  });

  it('counts a route once in attachedRoutes, and its rules once, when two parentRefs select the same listener', () => {
    const twice = route(
      'ingress',
      `  parentRefs: [{name: edge}, {name: edge, sectionName: http}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: web, namespace: ingress, port: 80}]}]`,
    );
    const web = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ingress}
spec: {clusterIP: 10.96.1.11, ports: [{name: http, port: 80}]}
`;
    const m = mesh(gateway(http), twice, web);
    const status = statusOf(m.context.gatewayApi.statuses, 'HTTPRoute', 'web');
    expect(status.parents.map((p: any) => p.conditions[0].reason)).toEqual(['Accepted', 'Accepted']);
    expect(statusOf(m.context.gatewayApi.statuses, 'KubernetesGateway', 'edge').listeners[0].attachedRoutes).toBe(1);
    expect(m.context.gatewayApi.virtualServices.map((vs) => vs.spec.http?.length)).toEqual([1]);
  });

  it('keeps the generated Gateways and VirtualServices out of analysis (they name no stored object)', () => {
    const golden = loadGoldenMesh(new URL('../golden/gateways/gateway-api.in.yaml', import.meta.url).pathname);
    expect(golden.context.virtualServices.some((vs) => vs.generated)).toBe(true);
    const messages = analyzeMesh(golden.context);
    expect(messages.filter((m) => JSON.stringify(m).includes('istio-autogenerated-k8s-gateway'))).toEqual([]);
  });
});
