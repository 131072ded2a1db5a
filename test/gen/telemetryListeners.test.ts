// Where access logs land on a sidecar's listeners: HTTP connection managers,
// tcp_proxy filters and (limited to NR) the listeners themselves, unless the
// mesh config disables listener logs; proxies without telemetry are untouched.
import { describe, expect, it } from 'vitest';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { meshFromYaml } from '../support/goldenMesh.js';

const mesh = (meshConfig: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
${meshConfig.replace(/^/gm, '    ')}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: 10.96.80.1, selector: {app: db}, ports: [{name: tcp-db, port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.80.2, selector: {app: web}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.80.1}
`;

type Json = Record<string, any>;

function listenersOf(yaml: string): Json[] {
  const { context, proxies } = meshFromYaml(yaml);
  return new SidecarGenerator(() => context).describe(context, proxies[0]!).listeners;
}

const filtersNamed = (listeners: Json[], suffix: string): Json[] =>
  listeners.flatMap((l) => (l.filterChains as Json[]).flatMap((c) => (c.filters as Json[]).filter((f) => String(f.name).endsWith(suffix))));

describe('access logs on sidecar listeners', () => {
  it("puts the mesh config's accessLogFile on HTTP connection managers, tcp_proxy filters and, for NR only, on listeners", () => {
    const listeners = listenersOf(mesh('accessLogFile: /dev/stdout'));
    expect(filtersNamed(listeners, 'tcp_proxy').every((f) => f.typedConfig.accessLog?.[0]?.typedConfig.path === '/dev/stdout')).toBe(true);
    expect(filtersNamed(listeners, 'http_connection_manager').every((f) => f.typedConfig.accessLog?.length === 1)).toBe(true);
    expect(listeners.every((l) => l.accessLog?.[0]?.filter?.responseFlagFilter?.flags?.[0] === 'NR')).toBe(true);
    expect(listeners.map((l) => l.name)).toContain('10.96.80.1_5432');
  });

  it('leaves listener-level logs out with disableEnvoyListenerLog, and adds nothing without access logging', () => {
    const disabled = listenersOf(mesh('accessLogFile: /dev/stdout\ndisableEnvoyListenerLog: true'));
    expect(disabled.some((l) => l.accessLog)).toBe(false);
    expect(filtersNamed(disabled, 'tcp_proxy').every((f) => f.typedConfig.accessLog?.length === 1)).toBe(true);
    const none = listenersOf(mesh('outboundTrafficPolicy: {mode: ALLOW_ANY}'));
    expect(JSON.stringify(none)).not.toContain('accessLog');
    expect(JSON.stringify(none)).not.toContain('"tracing"');
  });

  it('pairs Telemetry tracing with the UUID request-id extension carrying useRequestIdForTraceSampling', () => {
    const yaml = `${mesh('extensionProviders:\n- name: zipkin\n  zipkin: {service: web.shop.svc.cluster.local, port: 8080}')}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh, namespace: istio-system}
spec:
  tracing: [{providers: [{name: zipkin}], useRequestIdForTraceSampling: false}]
`;
    const hcms = filtersNamed(listenersOf(yaml), 'http_connection_manager');
    expect(hcms.length).toBeGreaterThan(0);
    for (const hcm of hcms) {
      expect(hcm.typedConfig.tracing.provider.name).toBe('envoy.tracers.zipkin');
      expect(hcm.typedConfig.requestIdExtension.typedConfig.useRequestIdForTraceSampling).toEqual({ value: false });
    }
  });
});
