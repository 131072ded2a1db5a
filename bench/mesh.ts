// The benchmark mesh, shared by the translation benchmark (in-process) and the
// scale benchmark (the real `meshd serve`): N services over 10 namespaces, each
// with 5 endpoints (Pods + an EndpointSlice), a DestinationRule with 2 subsets,
// connection pool and outlier detection, and on every other service a
// VirtualService with a header rule and a 90/10 split. No Sidecar scoping.
// Client workloads (the simulated sidecars' pods) live in ns-0.
import type { KubeObject } from '../src/model/kube.js';

export const endpointsPerService = 5;
export const meshNamespaces = 10;
export const clientNamespace = 'ns-0';
export const domainSuffix = 'cluster.local';

export const serviceName = (i: number): string => `svc-${i}`;
export const serviceNamespace = (i: number): string => `ns-${i % meshNamespaces}`;
export const servicePort = (i: number): number => 8000 + (i % 20);
export const serviceHost = (i: number): string => `${serviceName(i)}.${serviceNamespace(i)}.svc.${domainSuffix}`;
export const endpointIp = (service: number, e: number): string => `10.${128 + (service % 64)}.${Math.floor(service / 64) % 256}.${e + 1}`;
export const clientIp = (i: number): string => `10.200.${Math.floor(i / 256) % 256}.${i % 256}`;
/** Pod `e` of a service: versions alternate v1, v2, v1, ... */
export const podVersion = (e: number): string => (e % 2 === 0 ? 'v1' : 'v2');

export interface EndpointOverrides {
  /** Endpoints (from the first) that are ready; the rest are not. Default: all. */
  ready?: number;
  /** Address per endpoint index, replacing the generated one (a pod replaced by another). */
  addresses?: Record<number, string>;
}

/** The EndpointSlice of service `i`. */
export function endpointSlice(i: number, overrides: EndpointOverrides = {}): KubeObject {
  const ns = serviceNamespace(i);
  const name = serviceName(i);
  const ready = overrides.ready ?? endpointsPerService;
  const endpoints = [];
  for (let e = 0; e < endpointsPerService; e++) {
    const address = overrides.addresses?.[e] ?? endpointIp(i, e);
    endpoints.push({ addresses: [address], conditions: { ready: e < ready }, targetRef: { kind: 'Pod', name: `${name}-${e}`, namespace: ns } });
  }
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints,
  };
}

export function servicePod(i: number, e: number, version = podVersion(e), ip = endpointIp(i, e)): KubeObject {
  const name = serviceName(i);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${name}-${e}`, namespace: serviceNamespace(i), labels: { app: name, version } },
    spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

/**
 * The VirtualService of service `i` (even services have one): a header rule and a 90/10 split.
 * `canaryHeader` is the header value the first rule matches (the scale benchmark edits it).
 */
export function virtualService(i: number, canaryHeader = 'true'): KubeObject {
  const name = serviceName(i);
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: serviceNamespace(i) },
    spec: {
      hosts: [name],
      http: [
        { match: [{ headers: { 'x-canary': { exact: canaryHeader } } }], route: [{ destination: { host: name, subset: 'v2' } }] },
        {
          timeout: '5s',
          retries: { attempts: 3, perTryTimeout: '1s' },
          route: [
            { destination: { host: name, subset: 'v1' }, weight: 90 },
            { destination: { host: name, subset: 'v2' }, weight: 10 },
          ],
        },
      ],
    },
  };
}

/** Every object of service `i`: Service, Pods, EndpointSlice, DestinationRule and (even i) VirtualService. */
export function serviceObjects(i: number): KubeObject[] {
  const ns = serviceNamespace(i);
  const name = serviceName(i);
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: {
        clusterIP: `10.${96 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
        selector: { app: name },
        ports: [{ name: 'http', port: servicePort(i) }],
      },
    },
  ];
  for (let e = 0; e < endpointsPerService; e++) objects.push(servicePod(i, e));
  objects.push(endpointSlice(i));
  objects.push({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: ns },
    spec: {
      host: name,
      trafficPolicy: { connectionPool: { http: { http2MaxRequests: 100 } }, outlierDetection: { consecutive5xxErrors: 5, interval: '10s' } },
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
      ],
    },
  });
  if (i % 2 === 0) objects.push(virtualService(i));
  return objects;
}

export function meshObjects(services: number): KubeObject[] {
  const objects: KubeObject[] = [];
  for (let i = 0; i < services; i++) objects.push(...serviceObjects(i));
  return objects;
}

export function namespaceObjects(): KubeObject[] {
  return ['istio-system', ...Array.from({ length: meshNamespaces }, (_, n) => `ns-${n}`)].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  }));
}

/** The pod of simulated sidecar `i` (no Service selects it). */
export function clientPod(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `client-${i}`, namespace: clientNamespace, labels: { app: 'client' } },
    spec: {
      serviceAccountName: 'client',
      containers: [
        { name: 'app', image: 'client:1' },
        { name: 'istio-proxy', image: 'proxyv2:1.24.0' },
      ],
    },
    status: { phase: 'Running', podIP: clientIp(i), podIPs: [{ ip: clientIp(i) }] },
  };
}

export const sidecarNodeId = (i: number, namespace = clientNamespace): string =>
  `sidecar~${clientIp(i)}~client-${i}.${namespace}~${namespace}.svc.${domainSuffix}`;

/** Node metadata as istio-agent sends it for an injected sidecar (the keys meshd and istiod read, and a few more). */
export function sidecarNodeMetadata(i: number, namespace = clientNamespace): Record<string, unknown> {
  return {
    NAMESPACE: namespace,
    LABELS: {
      app: 'client',
      'security.istio.io/tlsMode': 'istio',
      'service.istio.io/canonical-name': 'client',
      'service.istio.io/canonical-revision': 'latest',
    },
    ISTIO_VERSION: '1.24.0',
    CLUSTER_ID: 'Kubernetes',
    MESH_ID: 'cluster.local',
    INTERCEPTION_MODE: 'REDIRECT',
    INSTANCE_IPS: clientIp(i),
    NODE_NAME: 'node-1',
    POD_PORTS: '[]',
    SERVICE_ACCOUNT: 'client',
    WORKLOAD_NAME: 'client',
    OWNER: `kubernetes://apis/apps/v1/namespaces/${namespace}/deployments/client`,
    PLATFORM_METADATA: {},
    APP_CONTAINERS: 'app',
    PROXY_CONFIG: {
      binaryPath: '/usr/local/bin/envoy',
      configPath: './etc/istio/proxy',
      discoveryAddress: 'istiod.istio-system.svc:15012',
      drainDuration: '45s',
      proxyAdminPort: 15000,
      serviceCluster: 'istio-proxy',
      statNameLength: 189,
      statusPort: 15020,
      terminationDrainDuration: '5s',
      tracing: { zipkin: { address: 'zipkin.istio-system:9411' } },
    },
    ENVOY_STATUS_PORT: 15021,
    ENVOY_PROMETHEUS_PORT: 15090,
    ISTIO_PROXY_SHA: '1.24.0',
    'sidecar.istio.io/interceptionMode': 'REDIRECT',
  };
}
