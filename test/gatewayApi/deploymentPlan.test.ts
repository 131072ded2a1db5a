// The automated-deployment planner: which Gateways get a ServiceAccount,
// Deployment and Service, and what those objects hold (istiod's names, labels,
// ports, ownerReferences and the injected router proxy).
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/model/kube.js';
import { projectOnto } from '../../src/gatewayApi/deployment/controller.js';
import { planGatewayDeployment, servicePorts, type DesiredObject, type PlanInput } from '../../src/gatewayApi/deployment/plan.js';
import { injectionSettingsFrom } from '../../src/webhooks/inject/injectionSettings.js';
import type { InjectionSettings } from '../../src/webhooks/inject/sidecarInjection.js';

const settings = injectionSettingsFrom(undefined, undefined, { clusterId: 'Kubernetes', trustDomain: 'cluster.local' });
if (!settings.ok) throw new Error(settings.error);
const injection: InjectionSettings = settings.settings;

function gateway(spec: Record<string, unknown>, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'web', namespace: 'edge', uid: 'uid-web', annotations },
    spec: {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } },
      ],
      ...spec,
    },
  };
}

const istioClass: KubeObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'GatewayClass',
  metadata: { name: 'istio' },
  spec: { controllerName: 'istio.io/gateway-controller' },
};

function plan(input: Partial<PlanInput> = {}) {
  return planGatewayDeployment({ gateway: gateway({}), gatewayClass: istioClass, injection, ...input });
}

function applied(input: Partial<PlanInput> = {}): Record<DesiredObject['kind'], DesiredObject> {
  const result = plan(input);
  if (result.action !== 'apply') throw new Error(`expected objects, got ${result.action}: ${result.reason}`);
  return Object.fromEntries(result.objects.map((o) => [o.kind, o])) as Record<DesiredObject['kind'], DesiredObject>;
}

describe('planGatewayDeployment', () => {
  it('gives a class-istio Gateway a ServiceAccount, Deployment and Service named NAME-istio, owned by the Gateway', () => {
    const { ServiceAccount, Deployment, Service } = applied();
    for (const object of [ServiceAccount, Deployment, Service]) {
      expect(object.metadata.name).toBe('web-istio');
      expect(object.metadata.namespace).toBe('edge');
      expect(object.metadata.ownerReferences).toEqual([
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'web', uid: 'uid-web', controller: true },
      ]);
      expect(object.metadata.labels).toMatchObject({
        'gateway.networking.k8s.io/gateway-name': 'web',
        'istio.io/gateway-name': 'web',
        'gateway.istio.io/managed': 'istio.io-gateway-controller',
      });
    }
  });

  it('exposes the status port and one port per distinct listener port, LoadBalancer by default', () => {
    const { Service } = applied();
    expect(Service.spec).toMatchObject({
      type: 'LoadBalancer',
      selector: { 'gateway.networking.k8s.io/gateway-name': 'web' },
      ports: [
        { name: 'status-port', port: 15021, protocol: 'TCP', appProtocol: 'tcp' },
        { name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' },
        { name: 'https', port: 443, protocol: 'TCP', appProtocol: 'https' },
      ],
    });
    expect(Service.spec).not.toHaveProperty('loadBalancerIP');
    const shared = servicePorts([
      { name: 'a', port: 80, protocol: 'HTTP' },
      { name: 'b', port: 80, protocol: 'HTTP' },
    ]);
    expect(shared).toEqual([expect.objectContaining({ name: 'status-port' }), { name: 'a', port: 80, protocol: 'TCP', appProtocol: 'http' }]);
  });

  it('takes the Service type from networking.istio.io/service-type and an IP address as loadBalancerIP', () => {
    expect(applied({ gateway: gateway({}, { 'networking.istio.io/service-type': 'ClusterIP' }) }).Service.spec).toMatchObject({ type: 'ClusterIP' });
    const withIp = applied({ gateway: gateway({ addresses: [{ type: 'IPAddress', value: '10.0.0.9' }] }) });
    expect(withIp.Service.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerIP: '10.0.0.9' });
    const clusterIp = applied({ gateway: gateway({ addresses: [{ value: '10.0.0.9' }] }, { 'networking.istio.io/service-type': 'ClusterIP' }) });
    expect(clusterIp.Service.spec).not.toHaveProperty('loadBalancerIP');
  });

  it('runs an injected router proxy: proxy router, no istio-init, metrics on 15090, readiness on 15021', () => {
    const { Deployment } = applied();
    const spec = Deployment.spec as {
      selector: unknown;
      template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, unknown> };
    };
    expect(spec.selector).toEqual({ matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'web' } });
    const { labels, annotations } = spec.template.metadata;
    expect(labels).toMatchObject({
      'gateway.networking.k8s.io/gateway-name': 'web',
      'istio.io/gateway-name': 'web',
      'sidecar.istio.io/inject': 'false',
      'istio.io/dataplane-mode': 'none',
      'service.istio.io/canonical-name': 'web-istio',
    });
    expect(annotations).toMatchObject({ 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/scrape': 'true', 'istio.io/rev': 'default' });
    const pod = spec.template.spec as { serviceAccountName: string; initContainers?: unknown; containers: Array<Record<string, any>> };
    expect(pod.serviceAccountName).toBe('web-istio');
    expect(pod.initContainers).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    const [proxy] = pod.containers;
    expect(proxy!.name).toBe('istio-proxy');
    expect(proxy!.args.slice(0, 2)).toEqual(['proxy', 'router']);
    expect(proxy!.ports).toEqual(
      expect.arrayContaining([
        { containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' },
        { containerPort: 15021, protocol: 'TCP', name: 'status-port' },
      ]),
    );
    expect(proxy!.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(proxy!.env).toEqual(
      expect.arrayContaining([
        { name: 'ISTIO_META_WORKLOAD_NAME', value: 'web-istio' },
        { name: 'ISTIO_META_OWNER', value: 'kubernetes://apis/apps/v1/namespaces/edge/deployments/web-istio' },
      ]),
    );
  });

  it('honours the name and service-account overrides', () => {
    const { ServiceAccount, Deployment, Service } = applied({
      gateway: gateway({}, { 'gateway.istio.io/name-override': 'front', 'gateway.istio.io/service-account': 'front-sa' }),
    });
    expect([ServiceAccount.metadata.name, Deployment.metadata.name, Service.metadata.name]).toEqual(['front-sa', 'front', 'front']);
    expect((Deployment.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName).toBe('front-sa');
  });

  it('leaves alone Gateways of another class, and the manual deployment form', () => {
    const other: KubeObject = { ...istioClass, metadata: { name: 'other' }, spec: { controllerName: 'example.com/other' } };
    expect(plan({ gateway: gateway({ gatewayClassName: 'other' }), gatewayClass: other }).action).toBe('ignore');
    expect(plan({ gateway: gateway({ gatewayClassName: 'other' }), gatewayClass: undefined }).action).toBe('ignore');
    // A class `istio` object owned by someone else is not ours either.
    expect(plan({ gatewayClass: { ...istioClass, spec: { controllerName: 'example.com/other' } } }).action).toBe('ignore');
    // No GatewayClass object: the name `istio` is enough, as for istiod.
    expect(plan({ gatewayClass: undefined }).action).toBe('apply');
    const manual = plan({ gateway: gateway({ addresses: [{ type: 'Hostname', value: 'ingress.istio-system.svc.cluster.local' }] }) });
    expect(manual).toEqual({ action: 'ignore', reason: expect.stringContaining('deployed by hand') });
    expect(plan({ gateway: gateway({ addresses: [{ value: '10.0.0.1' }, { value: '10.0.0.2' }] }) }).action).toBe('ignore');
  });

  it('refuses what it cannot build, naming the field', () => {
    expect(plan({ gateway: gateway({ listeners: [{ name: 'http', port: 'eighty', protocol: 'HTTP' }] }) })).toEqual({
      action: 'invalid',
      reason: 'spec.listeners[0].port: "eighty" is not a port number',
    });
    expect(plan({ gateway: gateway({}, { 'networking.istio.io/service-type': 'Magic' }) })).toMatchObject({
      action: 'invalid',
      reason: expect.stringContaining('networking.istio.io/service-type'),
    });
    const noUid = gateway({});
    delete noUid.metadata.uid;
    expect(plan({ gateway: noUid })).toMatchObject({ action: 'invalid', reason: expect.stringContaining('metadata.uid') });
  });

  it('is pure: the same input gives the same objects', () => {
    expect(JSON.stringify(plan())).toBe(JSON.stringify(plan()));
  });
});

describe('projectOnto (how the controller compares the cluster copy with what it applied)', () => {
  it('keeps only the fields and list entries of the shape, so defaults and fields others own do not count', () => {
    const applied = { metadata: { labels: { a: '1' } }, spec: { ports: [{ port: 80 }] } };
    const live = {
      metadata: { labels: { a: '1', other: 'x' }, resourceVersion: '9' },
      spec: { ports: [{ port: 80, nodePort: 30001 }, { port: 81 }], clusterIP: '10.0.0.1' },
      status: {},
    };
    expect(projectOnto(live, applied)).toEqual(applied);
    expect(projectOnto({ ...live, spec: { ports: [{ port: 8080 }] } }, applied)).not.toEqual(applied);
    expect(projectOnto({ metadata: {}, spec: { ports: [] } }, applied)).not.toEqual(applied);
  });
});
