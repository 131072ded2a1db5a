// Struct helpers for generators (shared with the rest of meshd in src/proto/struct.ts),
// and istiod's metadata naming the Istio object behind a resource.
import { toStruct } from '../../../proto/struct.js';
import type { Metadata } from '../../../proto/envoyTypes.generated.js';

export { toStruct, toStructValue, type JsonValue } from '../../../proto/struct.js';

/** Istio kinds generated resources point back at, in istiod's kebab-case. */
export type IstioConfigResource = 'virtual-service' | 'destination-rule' | 'sidecar';

/** istiod's reference to the Istio object behind a resource, e.g. `/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`. */
export function istioConfigPath(resource: IstioConfigResource, namespace: string, name: string): string {
  return `/apis/networking.istio.io/v1/namespaces/${namespace}/${resource}/${name}`;
}

/** Envoy metadata `filter_metadata.istio.config` naming the Istio object a resource came from (istioctl reads it). */
export function configMetadata(resource: IstioConfigResource, namespace: string, name: string): Metadata {
  return { filterMetadata: { istio: toStruct({ config: istioConfigPath(resource, namespace, name) }) } };
}
