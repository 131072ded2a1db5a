// Telemetry on gateways as istiod applies it: a gateway's listeners are of
// the CLIENT mode, the root namespace's Telemetry reaches every gateway, and a
// Telemetry of the gateway's namespace reaches it by `selector` or, for a
// Gateway API gateway, by `targetRefs`; gateways sharing merged Gateways but
// not Telemetry do not share cached listeners.
import { describe, expect, it } from 'vitest';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { meshFromYaml } from '../support/goldenMesh.js';

type Json = Record<string, any>;

const base = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.90.1, selector: {app: web}, ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: v1
kind: Pod
metadata:
  name: plain-1
  namespace: ingress
  labels: {istio: ingressgateway, app: plain}
  annotations: {golden.meshd.io/proxy: router}
status: {podIP: 10.1.90.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: quiet-1
  namespace: ingress
  labels: {istio: ingressgateway, app: quiet, gateway.networking.k8s.io/gateway-name: quiet}
  annotations: {golden.meshd.io/proxy: router}
status: {podIP: 10.1.90.2}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
`;

function hcmsByPod(yaml: string): Map<string, Json[]> {
  const { context, routers } = meshFromYaml(yaml);
  const generator = new GatewayGenerator(() => context);
  const out = new Map<string, Json[]>();
  for (const proxy of routers) {
    const listeners = generator.generate(proxy, { typeUrl: TypeUrl.Listener, wildcard: true, names: new Set() })!.map((l) => decodeAnyToJson(l.any) as Json);
    out.set(
      proxy.podName,
      listeners.flatMap((l) => (l.filterChains as Json[]).flatMap((c) => (c.filters as Json[]).map((f) => f.typedConfig))),
    );
  }
  return out;
}

const logged = (hcms: Json[] | undefined) => (hcms ?? []).map((h) => (h.accessLog ?? []).length);

describe('Telemetry on gateways', () => {
  it('applies the root namespace Telemetry to every gateway', () => {
    const hcms = hcmsByPod(base);
    expect(logged(hcms.get('plain-1'))).toEqual([1]);
    expect(logged(hcms.get('quiet-1'))).toEqual([1]);
  });

  it('takes the CLIENT side: a SERVER-only entry of a selecting Telemetry changes nothing, a CLIENT one does', () => {
    const selecting = (mode: string) => `${base}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet, namespace: ingress}
spec:
  selector: {matchLabels: {app: quiet}}
  accessLogging:
  - match: {mode: ${mode}}
    disabled: true
`;
    const server = hcmsByPod(selecting('SERVER'));
    expect(logged(server.get('quiet-1'))).toEqual([1]);
    const client = hcmsByPod(selecting('CLIENT'));
    expect(logged(client.get('quiet-1'))).toEqual([0]);
    // The other replica of the same Gateway keeps its logs: the cached listeners are not shared.
    expect(logged(client.get('plain-1'))).toEqual([1]);
  });

  it('attaches a targetRefs Telemetry to the Gateway API gateway it names, in its own namespace only', () => {
    const targeted = (namespace: string) => `${base}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet, namespace: ${namespace}}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: quiet}]
  accessLogging:
  - disabled: true
`;
    const own = hcmsByPod(targeted('ingress'));
    expect(logged(own.get('quiet-1'))).toEqual([0]);
    expect(logged(own.get('plain-1'))).toEqual([1]);
    const elsewhere = hcmsByPod(targeted('shop'));
    expect(logged(elsewhere.get('quiet-1'))).toEqual([1]);
  });
});
