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
