// Telemetry scope and merge (istiod's Telemetries): root namespace, then
// namespace, then workload selector; per-mode tracing specs and access-log
// providers; and which proxies a Telemetry or mesh config change reaches.
import { describe, expect, it } from 'vitest';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { lookupCluster, proxyTelemetry } from '../../src/push/telemetry.js';
import { changeImpact } from '../../src/push/changes.js';
import type { ModelChange } from '../../src/model/meshModel.js';
import type { Proxy } from '../../src/model/proxy.js';

const providers = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    extensionProviders:
    - name: zipkin
      zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
    - name: otel
      opentelemetry: {service: otel.istio-system.svc.cluster.local, port: 4317}
    - name: stderr
      envoyFileAccessLog: {path: /dev/stderr}
`;

const pod = (name: string, namespace: string, labels: Record<string, string> = {}): Proxy =>
  proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } });

const telemetry = (namespace: string, name: string, spec: string) => `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec.replace(/^/gm, '  ')}
`;

describe('Telemetry scope and merge', () => {
  const { context } = meshFromYaml(
    providers +
      telemetry(
        'istio-system',
        'mesh',
        'tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 1}]\naccessLogging: [{providers: [{name: envoy}]}]',
      ) +
      telemetry('shop', 'shop-wide', 'tracing: [{randomSamplingPercentage: 50}]') +
      telemetry(
        'shop',
        'api-only',
        'selector: {matchLabels: {app: api}}\ntracing: [{match: {mode: SERVER}, providers: [{name: otel}]}]\naccessLogging: [{providers: [{name: stderr}], filter: {expression: "response.code >= 400"}}]',
      ) +
      telemetry('shop', 'for-gateway', 'targetRefs: [{kind: Gateway, name: web, group: gateway.networking.k8s.io}]\ntracing: [{disableSpanReporting: true}]'),
  );

  it('applies the root namespace, then the namespace, then the selecting Telemetry; targetRefs do not attach to sidecars', () => {
    expect(proxyTelemetry(context, pod('a', 'shop', { app: 'api' })).applied).toEqual(['istio-system/mesh', 'shop/shop-wide', 'shop/api-only']);
    expect(proxyTelemetry(context, pod('b', 'shop', { app: 'web', 'gateway.networking.k8s.io/gateway-name': 'web' })).applied).toEqual([
      'istio-system/mesh',
      'shop/shop-wide',
    ]);
    expect(proxyTelemetry(context, pod('c', 'other')).applied).toEqual(['istio-system/mesh']);
  });

  it('merges tracing per mode: later levels override provider and sampling, a match limits the override to one mode', () => {
    const { tracing } = proxyTelemetry(context, pod('a', 'shop', { app: 'api' }));
    expect(tracing!.CLIENT).toMatchObject({ provider: { name: 'zipkin' }, randomSamplingPercentage: 50, disabled: false });
    expect(tracing!.SERVER).toMatchObject({ provider: { name: 'otel' }, randomSamplingPercentage: 50, disabled: false });
    expect(proxyTelemetry(context, pod('c', 'other')).tracing!.SERVER).toMatchObject({ provider: { name: 'zipkin' }, randomSamplingPercentage: 1 });
  });

  it('replaces the access-log providers in scope with the last level naming some, with its filter', () => {
    const { accessLogging } = proxyTelemetry(context, pod('a', 'shop', { app: 'api' }));
    expect(accessLogging!.CLIENT).toEqual([
      { provider: { name: 'stderr', envoyFileAccessLog: { path: '/dev/stderr' } }, disabled: false, filter: 'response.code >= 400' },
    ]);
    expect(proxyTelemetry(context, pod('c', 'other')).accessLogging!.SERVER.map((s) => s.provider.name)).toEqual(['envoy']);
  });

  it('disables tracing when the named provider is not an extension provider, and logging per mode with disabled', () => {
    const { context: mesh } = meshFromYaml(
      providers +
        telemetry(
          'istio-system',
          'mesh',
          'tracing: [{providers: [{name: missing}]}]\naccessLogging: [{providers: [{name: envoy}]}, {match: {mode: CLIENT}, disabled: true}]',
        ),
    );
    const result = proxyTelemetry(mesh, pod('c', 'other'));
    expect([result.tracing!.CLIENT.disabled, result.tracing!.SERVER.disabled]).toEqual([true, true]);
    expect(result.accessLogging!.CLIENT).toEqual([{ provider: { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } }, disabled: true }]);
    expect(result.accessLogging!.SERVER[0]!.disabled).toBe(false);
  });

  it('uses the default providers without any Telemetry, and configures nothing without either', () => {
    const { context: defaults } = meshFromYaml(
      providers.replace('extensionProviders:', 'defaultProviders: {tracing: [otel], accessLogging: [stderr]}\n    extensionProviders:'),
    );
    const result = proxyTelemetry(defaults, pod('c', 'other'));
    expect(result.tracing!.CLIENT.provider!.name).toBe('otel');
    expect(result.accessLogging!.SERVER.map((s) => s.provider.name)).toEqual(['stderr']);
    const { context: plain } = meshFromYaml(providers);
    expect(proxyTelemetry(plain, pod('c', 'other'))).toEqual({ applied: [] });
  });
});

describe('provider cluster lookup', () => {
  const { context } = meshFromYaml(`apiVersion: v1
kind: Service
metadata: {name: zipkin, namespace: istio-system}
spec: {clusterIP: 10.96.9.9, ports: [{name: http, port: 9411}]}
`);
  it("finds a provider's service by host or NAMESPACE/HOST, and nothing in another namespace or without a port", () => {
    const cluster = { ok: true, hostname: 'zipkin.istio-system.svc.cluster.local', cluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local' };
    expect(lookupCluster(context, 'zipkin.istio-system.svc.cluster.local', 9411)).toEqual(cluster);
    expect(lookupCluster(context, 'istio-system/zipkin.istio-system.svc.cluster.local', 9411)).toEqual(cluster);
    expect(lookupCluster(context, 'tracing/zipkin.istio-system.svc.cluster.local', 9411).ok).toBe(false);
    expect(lookupCluster(context, 'zipkin.istio-system.svc.cluster.local', undefined).ok).toBe(false);
    expect(lookupCluster(context, 'jaeger.istio-system.svc.cluster.local', 9411)).toEqual({
      ok: false,
      error: 'could not find service jaeger.istio-system.svc.cluster.local in the service registry',
    });
  });
});

describe('Telemetry change impact', () => {
  const { context } = meshFromYaml(providers);
  const change = (namespace: string, spec: unknown): ModelChange => ({
    kind: 'Telemetry',
    namespace,
    name: 't',
    current: { apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 't', namespace }, spec },
  });
  const api = pod('a', 'shop', { app: 'api' });
  const web = pod('b', 'shop', { app: 'web' });
  const other = pod('c', 'other');

  it('a root namespace-wide Telemetry pushes LDS to every proxy; a selecting one only to the workloads it selects', () => {
    const root = changeImpact(change('istio-system', { tracing: [{}] }), context, context);
    expect([...(root.types as Set<string>)]).toEqual(['type.googleapis.com/envoy.config.listener.v3.Listener']);
    expect(root.affects).toBeUndefined();
    const selecting = changeImpact(change('shop', { selector: { matchLabels: { app: 'api' } }, tracing: [{}] }), context, context);
    expect([api, web, other].map((p) => selecting.affects!(p))).toEqual([true, false, false]);
    const forGateways = changeImpact(change('shop', { targetRefs: [{ kind: 'Gateway', name: 'web' }], tracing: [{}] }), context, context);
    expect([api, web, other].map((p) => forGateways.affects!(p))).toEqual([false, false, false]);
    const namespaceWide = changeImpact(change('shop', { accessLogging: [{}] }), context, context);
    expect([api, web, other].map((p) => namespaceWide.affects!(p))).toEqual([true, true, false]);
  });

  it('a mesh config change of extension providers or access logging pushes LDS to everyone', () => {
    const { context: next } = meshFromYaml(providers.replace('/dev/stderr', '/dev/null'));
    const impact = changeImpact({ kind: 'ConfigMap', namespace: 'istio-system', name: 'istio' }, context, next);
    expect([...(impact.types as Set<string>)]).toEqual(['type.googleapis.com/envoy.config.listener.v3.Listener']);
    expect(impact.affects).toBeUndefined();
    const unchanged = changeImpact({ kind: 'ConfigMap', namespace: 'istio-system', name: 'istio' }, context, meshFromYaml(providers).context);
    expect((unchanged.types as Set<string>).size).toBe(0);
  });

  it("a change of a provider's collector service reaches every proxy", () => {
    const impact = changeImpact({ kind: 'Service', namespace: 'istio-system', name: 'zipkin' }, context, context);
    expect(impact.affects).toBeUndefined();
  });
});
