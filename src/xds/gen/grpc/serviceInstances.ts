// The service ports a proxyless workload serves, found as istiod finds a
// Kubernetes proxy's service targets: the Services of its namespace whose
// selector matches its Pod, with named target ports resolved through the
// Pod's container ports; then any endpoint at one of its IPs (ServiceEntry
// endpoints, pods meshd has no Pod object for). A server listener exists only
// on a port one of them serves.
import type { KubeObject } from '../../../model/kube.js';
import type { Proxy } from '../../../model/proxy.js';
import { labelsMatch } from '../../../push/hosts.js';
import type { PushContext } from '../../../push/pushContext.js';
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import { memo } from '../cache.js';
import { grpcServiceInstancesEntry } from '../cacheKeys.js';

export interface ServiceInstance {
  readonly service: MeshService;
  readonly port: MeshServicePort;
  /** The port the workload listens on for this service port. */
  readonly endpointPort: number;
}

interface PodSpecShape {
  containers?: { ports?: { name?: string; containerPort?: number }[] }[];
}

function containerPort(pod: KubeObject, name: string): number | undefined {
  const spec = pod.spec as PodSpecShape | undefined;
  return spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === name)?.containerPort;
}

function podInstances(context: PushContext, pod: KubeObject): ServiceInstance[] {
  const namespace = pod.metadata.namespace ?? 'default';
  const labels = pod.metadata.labels ?? {};
  const instances: ServiceInstance[] = [];
  for (const service of context.services) {
    if (service.registry !== 'Kubernetes' || service.namespace !== namespace || !service.selector) continue;
    if (Object.keys(service.selector).length === 0 || !labelsMatch(service.selector, labels)) continue;
    for (const port of service.ports) {
      const endpointPort = port.targetPort ?? (port.targetPortName ? containerPort(pod, port.targetPortName) : port.port);
      if (endpointPort !== undefined) instances.push({ service, port, endpointPort });
    }
  }
  return instances;
}

function endpointInstances(context: PushContext, ips: ReadonlySet<string>): ServiceInstance[] {
  const instances: ServiceInstance[] = [];
  for (const service of context.services) {
    for (const port of service.ports) {
      for (const endpoint of context.endpoints(service.hostname, port.port)) {
        if (ips.has(endpoint.address)) instances.push({ service, port, endpointPort: endpoint.port });
      }
    }
  }
  return instances;
}

/** Cached as reading every endpoint and pod: Pod and endpoint changes (endpoint-only pushes) alter it. */
export function serviceInstancesOf(context: PushContext, proxy: Proxy): readonly ServiceInstance[] {
  return memo(context, grpcServiceInstancesEntry(proxy.namespace, proxy.podName, proxy.ipAddresses), () => {
    const pod = context.snapshot.get('Pod')?.get(`${proxy.namespace}/${proxy.podName}`)?.object;
    return [...(pod ? podInstances(context, pod) : []), ...endpointInstances(context, new Set(proxy.ipAddresses))];
  });
}
