// google.protobuf.Struct both ways, for protobufjs (which has no JSON mapping
// for Struct): plain JSON → the message shape fromObject expects, and a
// decoded message → plain JSON.

import type { Struct, Value } from './envoyTypes.generated.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function toStructValue(value: JsonValue): Value {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
  return { structValue: toStruct(value) };
}

/** Plain JSON object → google.protobuf.Struct in protobufjs' fromObject shape. */
export function toStruct(object: { [key: string]: JsonValue }): Struct {
  // Runs for every cluster's and endpoint's metadata: a plain loop, no entry arrays.
  const fields: Record<string, Value> = {};
  for (const key in object) fields[key] = toStructValue(object[key]!);
  return { fields };
}

/** A decoded google.protobuf.Value. */
export interface DecodedValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, DecodedValue> };
  listValue?: { values?: DecodedValue[] };
}

// Decoded messages carry proto3 defaults ('', 0, false) on their prototype: only own properties were on the wire.
const has = (v: object, key: string): boolean => Object.prototype.hasOwnProperty.call(v, key);

function valueToJson(v: DecodedValue): unknown {
  if (has(v, 'stringValue') && v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (has(v, 'numberValue') && v.numberValue !== undefined && v.numberValue !== null) return v.numberValue;
  if (has(v, 'boolValue') && v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.structValue) return structToJson(v.structValue);
  if (v.listValue) return (v.listValue.values ?? []).map(valueToJson);
  return null;
}

/** A decoded google.protobuf.Struct → plain JSON object ({} for none). */
export function structToJson(struct: { fields?: Record<string, DecodedValue> } | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}
