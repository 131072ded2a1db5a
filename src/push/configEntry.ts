// One Istio config object as the push context indexes it; its own module so the indexes built from it
// (destinationRules, virtualServiceDelegates) need not import pushContext.
import type { KubeObject } from '../model/kube.js';

/** One Istio config object with its hosts already resolved to FQDNs. */
export interface ConfigEntry<Spec> {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: Spec;
  readonly object: KubeObject;
  /** Hosts resolved against the object's namespace (VirtualService hosts, DestinationRule host). */
  readonly hosts: readonly string[];
}
