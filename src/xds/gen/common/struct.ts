// google.protobuf.Struct in the shape protobufjs' fromObject expects
// (protobufjs has no JSON mapping for Struct, so values are spelled out).

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function toStructValue(value: JsonValue): Record<string, unknown> {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
  return { structValue: toStruct(value) };
}

export function toStruct(object: { [key: string]: JsonValue }): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toStructValue(value);
  return { fields };
}

/** istiod's reference to the Istio object behind a resource, e.g. `/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`. */
export function istioConfigPath(resource: 'virtual-service' | 'destination-rule', namespace: string, name: string): string {
  return `/apis/networking.istio.io/v1/namespaces/${namespace}/${resource}/${name}`;
}

/** Envoy metadata `filter_metadata.istio.config` naming the Istio object a resource came from (istioctl reads it). */
export function configMetadata(resource: 'virtual-service' | 'destination-rule', namespace: string, name: string): Record<string, unknown> {
  return { filterMetadata: { istio: toStruct({ config: istioConfigPath(resource, namespace, name) }) } };
}
