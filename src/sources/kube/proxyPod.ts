// Which pod a connecting proxy runs in, and the labels and service account
// meshd should use for it. As istiod does: the pod named by the node id
// (POD.NAMESPACE, when NAMESPACE agrees with node metadata), else the pod
// owning the proxy's first IP, else the node metadata the proxy sent.
import type { KubeObject } from '../../model/kube.js';
import type { Proxy } from '../../model/proxy.js';

export interface PodLookup {
  getPod(namespace: string, name: string): KubeObject | undefined;
  podByIp?(ip: string): KubeObject | undefined;
}

export interface ProxyWorkload {
  labels: Record<string, string>;
  serviceAccount: string;
  /** `namespace/name` of the pod found, when one was. */
  pod?: { namespace: string; name: string };
  /** Where labels and service account came from. */
  from: 'pod' | 'node-metadata';
}

/** The pod key a node id names, or undefined when the id does not name one unambiguously. */
export function podKeyOfProxy(proxy: Pick<Proxy, 'id' | 'namespace'>): { namespace: string; name: string } | undefined {
  const parts = proxy.id.split('~');
  if (parts.length !== 4) return undefined;
  const podPart = parts[2]!.split('.');
  if (podPart.length !== 2 || !podPart[0] || podPart[1] !== proxy.namespace) return undefined;
  return { name: podPart[0], namespace: podPart[1] };
}

export function findProxyPod(proxy: Pick<Proxy, 'id' | 'namespace' | 'ipAddresses'>, pods: PodLookup): KubeObject | undefined {
  const key = podKeyOfProxy(proxy);
  const byName = key ? pods.getPod(key.namespace, key.name) : undefined;
  if (byName) return byName;
  const firstIp = proxy.ipAddresses[0];
  return firstIp && pods.podByIp ? pods.podByIp(firstIp) : undefined;
}

/** Labels and service account for a proxy: from its pod when found, from node metadata otherwise. */
export function resolveProxyWorkload(proxy: Proxy, pods: PodLookup): ProxyWorkload {
  const pod = findProxyPod(proxy, pods);
  if (!pod) return { labels: { ...proxy.labels }, serviceAccount: proxy.serviceAccount, from: 'node-metadata' };
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown };
  const serviceAccount = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName ? spec.serviceAccountName : proxy.serviceAccount;
  return {
    labels: { ...(pod.metadata.labels ?? {}) },
    serviceAccount,
    pod: { namespace: pod.metadata.namespace ?? '', name: pod.metadata.name },
    from: 'pod',
  };
}

/** True when a pod update changes what resolveProxyWorkload gives, so the proxy must be re-evaluated. */
export function podChangeAffectsProxy(previous: KubeObject | undefined, current: KubeObject | undefined): boolean {
  const labels = (pod: KubeObject | undefined): string => JSON.stringify(Object.entries(pod?.metadata.labels ?? {}).sort());
  const account = (pod: KubeObject | undefined): unknown => (pod?.spec as { serviceAccountName?: unknown } | undefined)?.serviceAccountName;
  return labels(previous) !== labels(current) || account(previous) !== account(current);
}
