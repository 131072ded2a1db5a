// How a Sidecar's egress and ingress listeners shape a proxy's scope and
// inbound ports, following istiod's SidecarScope.
import { describe, expect, it } from 'vitest';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { egressListenerForPort, servicesOnRoutePort } from '../../src/push/sidecarEgress.js';

const svc = (name: string, ns: string, ports: string) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {clusterIP: 10.96.1.${name.length}, selector: {app: ${name}}, ports: [${ports}]}
`;
const sidecar = (spec: string, ns = 'client') => `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ${ns}}
spec:
${spec}
`;
const client = proxyForPod({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'c', namespace: 'client', labels: { app: 'c' } },
  status: { podIP: '10.1.0.9' },
});
const ports = (scope: { services: readonly { hostname: string; ports: readonly { port: number }[] }[] }) =>
  Object.fromEntries(scope.services.map((s) => [s.hostname.split('.')[0], s.ports.map((p) => p.port)]));

describe('Sidecar egress listeners', () => {
  const services = `${svc('a', 'shop', '{name: http, port: 80}, {name: http-alt, port: 8080}')}${svc('b', 'shop', '{name: http, port: 80}')}${svc('c', 'data', '{name: tcp, port: 5432}')}`;

  it("lets entries naming a service's namespace decide alone, before */ entries (istiod's selectServices)", () => {
    const { context } = meshFromYaml(`${services}${sidecar('  egress: [{hosts: ["shop/a.shop.svc.cluster.local", "*/*"]}]')}`);
    expect(Object.keys(ports(context.scopeFor(client))).sort()).toEqual(['a', 'c']);
  });

  it("narrows a port listener's services to its port and unions them with the catch-all's", () => {
    const { context } = meshFromYaml(
      `${services}${sidecar(`  egress:
  - port: {number: 8080, protocol: HTTP}
    hosts: ["shop/*"]
  - hosts: ["data/*"]`)}`,
    );
    const scope = context.scopeFor(client);
    expect(scope.egressListeners.map((l) => ports(l))).toEqual([{ a: [8080] }, { c: [5432] }]);
    expect(ports(scope)).toEqual({ a: [8080], c: [5432] });
    expect(egressListenerForPort(scope.egressListeners, 8080)).toBe(scope.egressListeners[0]);
    expect(egressListenerForPort(scope.egressListeners, 80)).toBe(scope.egressListeners[1]);
  });

  it('gives route configuration PORT the services of the listener owning that port only', () => {
    const { context } = meshFromYaml(
      `${services}${sidecar(`  egress:
  - port: {number: 80, protocol: HTTP}
    hosts: ["shop/b.shop.svc.cluster.local"]
  - hosts: ["shop/*"]`)}`,
    );
    const scope = context.scopeFor(client);
    expect(servicesOnRoutePort(scope.egressListeners, 80).map((s) => s.name)).toEqual(['b']);
    expect(servicesOnRoutePort(scope.egressListeners, 8080).map((s) => s.name)).toEqual(['a']);
    // The catch-all adds a's port 80 cluster back: clusters are the union.
    expect(ports(scope)).toEqual({ b: [80], a: [80, 8080] });
  });
});

describe('Sidecar ingress listeners', () => {
  const workload = `${svc('c', 'client', '{name: http, port: 80, targetPort: 9080}, {name: tcp, port: 7000}')}`;

  it('replace the ports of the Services selecting the workload', () => {
    const { context } = meshFromYaml(
      `${workload}${sidecar(`  ingress:
  - port: {number: 9090, protocol: TCP, name: tcp-admin}
    defaultEndpoint: 127.0.0.1:9000
  - port: {number: 9080, protocol: GRPC, name: grpc}
    bind: 10.1.0.9
  inboundConnectionPool: {tcp: {maxConnections: 7}}`)}`,
    );
    const targets = context.inboundTargets(client);
    expect(targets.map((t) => [t.targetPort, t.port.protocol, t.service.hostname])).toEqual([
      [9080, 'GRPC', 'c.client.svc.cluster.local'], // the Service serving that port keeps naming it
      [9090, 'TCP', 'default.client'], // istiod's stand-in: SIDECAR.NAMESPACE
    ]);
    expect(targets[1]!.sidecarIngress).toMatchObject({ bindToPort: false, defaultEndpoint: { kind: 'socket', host: '127.0.0.1', port: 9000 } });
    expect(targets[0]!.sidecarIngress!.bind).toBe('10.1.0.9');
    expect(targets.map((t) => t.connectionPool?.tcp?.maxConnections)).toEqual([7, 7]);
  });

  it("without ingress, the Services' ports stay, with the Sidecar's inboundConnectionPool", () => {
    const { context } = meshFromYaml(`${workload}${sidecar('  inboundConnectionPool: {tcp: {maxConnections: 7}}')}`);
    expect(context.inboundTargets(client).map((t) => [t.targetPort, t.sidecarIngress, t.connectionPool?.tcp?.maxConnections])).toEqual([
      [7000, undefined, 7],
      [9080, undefined, 7],
    ]);
  });
});
