// Protobuf merge semantics (what istiod's EnvoyFilter MERGE does with
// proto.Merge) on the generators' JSON shape, guided by the message type:
// set scalars replace, proto3 scalars left at their default do not; messages
// merge field by field, except durations, which replace (as istio's own merge
// package does: merging seconds and nanos separately would add them up); repeated fields append; map entries replace by key;
// setting one member of a oneof clears the others; an Any merges with an Any
// of the same `@type` and is replaced by one of another type.
import protobuf from 'protobufjs';
import { anyTypeOf } from '../../../proto/protoJson.js';
import type { Json } from './json.js';

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function isDefaultScalar(field: protobuf.Field, value: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Enum) {
    return value === 0 || (typeof value === 'string' && field.resolvedType.values[value] === 0);
  }
  if (typeof value === 'string') return value === '' || (field.type !== 'string' && field.type !== 'bytes' && Number(value) === 0);
  return value === 0 || value === false;
}

/** `src` merged into `dst` as a message of `type`; neither input is changed. */
export function protoMerge(type: protobuf.Type, dst: Json, src: Json): Json {
  if (type.fullName === '.google.protobuf.Any') {
    if (dst['@type'] !== src['@type']) return structuredClone(src);
    const packed = anyTypeOf(type.root, src['@type']);
    return { ...protoMerge(packed, dst, src), '@type': src['@type'] };
  }
  const out: Json = { ...dst };
  for (const [key, value] of Object.entries(src)) {
    if (key === '@type' || value === undefined || value === null) continue;
    const field = type.fields[key];
    if (!field) {
      out[key] = structuredClone(value);
      continue;
    }
    field.resolve();
    if (field.partOf) for (const member of field.partOf.fieldsArray) if (member.name !== key) delete out[member.name];
    const current = out[key];
    if (field.map) {
      out[key] = { ...(isObject(current) ? current : {}), ...structuredClone(value as Json) };
    } else if (field.repeated) {
      out[key] = [...(Array.isArray(current) ? (current as unknown[]) : []), ...structuredClone(value as unknown[])];
    } else if (field.resolvedType instanceof protobuf.Type) {
      const replaces = field.resolvedType.fullName === '.google.protobuf.Duration';
      out[key] = !replaces && isObject(current) && isObject(value) ? protoMerge(field.resolvedType, current, value) : structuredClone(value);
    } else if (field.hasPresence || !isDefaultScalar(field, value)) {
      out[key] = value;
    }
  }
  return out;
}
