// Whether a pod gets a sidecar, by istiod's rules. The namespace side
// (istio-injection=enabled, istio.io/rev) is decided by the webhook
// configuration's selectors before the API server calls /inject; here: the
// pod's own opt-out or opt-in, host networking, and pods already injected.
import { Annotation } from './annotations.js';
import type { Pod } from './podTypes.js';

export type InjectionDecision = { inject: true } | { inject: false; reason: string };

/** istiod's namespaces it never injects into. */
export const ignoredNamespaces = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage', 'istio-system']);

function truthy(value: string): boolean {
  return ['y', 'yes', 'true', 'on'].includes(value.trim().toLowerCase());
}

/**
 * `policy` is istiod's injector policy: `enabled` injects unless the pod says
 * false, `disabled` only when it says true. The pod label wins over the annotation.
 */
export function injectionRequired(pod: Pod, namespace: string, policy: 'enabled' | 'disabled' = 'enabled'): InjectionDecision {
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'host network pod' };
  if (ignoredNamespaces.has(namespace)) return { inject: false, reason: `namespace ${namespace} is never injected` };
  if (pod.metadata.annotations?.[Annotation.status] !== undefined) return { inject: false, reason: 'already injected' };
  if (pod.spec?.containers?.some((c) => c.name === 'istio-proxy') || pod.spec?.initContainers?.some((c) => c.name === 'istio-proxy')) {
    return { inject: false, reason: 'already has an istio-proxy container' };
  }
  const explicit = pod.metadata.labels?.[Annotation.inject] ?? pod.metadata.annotations?.[Annotation.inject];
  if (explicit !== undefined) return truthy(explicit) ? { inject: true } : { inject: false, reason: `${Annotation.inject}=${explicit}` };
  return policy === 'enabled' ? { inject: true } : { inject: false, reason: 'injection policy disabled and the pod does not ask for it' };
}
