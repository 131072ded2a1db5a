// Whether a pod gets a sidecar, by istiod's rules. The namespace side
// (istio-injection=enabled, istio.io/rev) is decided by the webhook
// configuration's selectors before the API server calls /inject; here: host
// networking, pods already injected, the pod's own choice (label over
// annotation), then the injector's never/always selectors and its policy.
import { Annotation } from './annotations.js';
import { defaultInjectorConfig, type InjectorConfig } from './injectorConfig.js';
import type { Pod } from './podTypes.js';

export type InjectionDecision = { inject: true } | { inject: false; reason: string };

/** istiod's namespaces it never injects into. */
export const ignoredNamespaces = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage', 'istio-system']);

function truthy(value: string): boolean {
  return ['y', 'yes', 'true', 'on'].includes(value.trim().toLowerCase());
}

/** True when the decision needs no injector configuration (host network, already injected, an explicit choice). */
export function decidedByPod(pod: Pod, namespace: string): InjectionDecision | undefined {
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'host network pod' };
  if (ignoredNamespaces.has(namespace)) return { inject: false, reason: `namespace ${namespace} is never injected` };
  if (pod.metadata.annotations?.[Annotation.status] !== undefined) return { inject: false, reason: 'already injected' };
  if (pod.spec?.containers?.some((c) => c.name === 'istio-proxy') || pod.spec?.initContainers?.some((c) => c.name === 'istio-proxy')) {
    return { inject: false, reason: 'already has an istio-proxy container' };
  }
  const explicit = pod.metadata.labels?.[Annotation.inject] ?? pod.metadata.annotations?.[Annotation.inject];
  if (explicit !== undefined && explicit !== '') return truthy(explicit) ? { inject: true } : { inject: false, reason: `${Annotation.inject}=${explicit}` };
  return undefined;
}

export function injectionRequired(pod: Pod, namespace: string, config: InjectorConfig = defaultInjectorConfig): InjectionDecision {
  const byPod = decidedByPod(pod, namespace);
  if (byPod) return byPod;
  const labels = pod.metadata.labels ?? {};
  if (config.neverInjectSelector.some((matches) => matches(labels))) return { inject: false, reason: 'matches neverInjectSelector' };
  if (config.alwaysInjectSelector.some((matches) => matches(labels))) return { inject: true };
  return config.policy === 'enabled' ? { inject: true } : { inject: false, reason: 'injection policy disabled and the pod does not ask for it' };
}
