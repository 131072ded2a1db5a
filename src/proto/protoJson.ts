// Reads Envoy configuration written in proto3's JSON mapping (what users put
// in EnvoyFilter patches: snake_case or lowerCamelCase field names, durations
// as "1.5s", wrappers as bare values, Struct as plain JSON, Any as an object
// with `@type`) into the shape the encoder writes (jsonEncoder.ts: camelCase
// fields, protobufjs' message forms of the well-known types). Driven by the
// message type, so an unknown field or Any type is an error naming its path.
import protobuf from 'protobufjs';
import { ProtoJsonError, discardEncoding, encodeJson } from './jsonEncoder.js';
import { toStruct, toStructValue, type JsonValue } from './struct.js';

type Json = Record<string, unknown>;

const wrapperTypes = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

/** proto3 JSON duration ("1.5s", "-2s") as {seconds, nanos}. */
function durationFromJson(value: string): Json {
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
  if (!match) throw new ProtoJsonError(`malformed duration ${JSON.stringify(value)} (expected e.g. "1.5s")`);
  const sign = match[1] ? -1 : 1;
  const seconds = Number(match[2]) * sign;
  const nanos = Number((match[3] ?? '').padEnd(9, '0')) * sign;
  return nanos === 0 ? { seconds } : { seconds, nanos };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldOf(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fields[protobuf.util.camelCase(key)];
}

/** The message type an Any's `@type` names, looked up in `root`. */
export function anyTypeOf(root: protobuf.Root, typeUrl: unknown): protobuf.Type {
  if (typeof typeUrl !== 'string' || typeUrl === '') throw new ProtoJsonError('Any value needs a "@type"');
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const found = root.lookup(name);
  if (!(found instanceof protobuf.Type)) throw new ProtoJsonError(`unknown Any type ${JSON.stringify(typeUrl)}`);
  return found;
}

/** proto3 JSON's scalar forms: strings for string and bytes, booleans, numbers (64-bit ones also as decimal strings), enums by name or number. */
function scalarFromJson(field: protobuf.Field, value: unknown): unknown {
  const kind = field.resolvedType instanceof protobuf.Enum ? 'enum' : field.type;
  const ok = ((): boolean => {
    switch (kind) {
      case 'string':
      case 'bytes':
        return typeof value === 'string';
      case 'bool':
        return typeof value === 'boolean';
      case 'enum':
        return typeof value === 'string' || Number.isInteger(value);
      case 'double':
      case 'float':
        return typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)));
      default:
        return Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value));
    }
  })();
  if (!ok)
    throw new ProtoJsonError(`expected ${kind === 'bool' ? 'true or false' : kind === 'enum' ? 'an enum name' : `a ${kind}`}, got ${JSON.stringify(value)}`);
  return value;
}

function elementFromJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return messageFromProto3Json(resolved, value);
  return scalarFromJson(field, value);
}

function withPath<T>(segment: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw error instanceof ProtoJsonError ? error.at(segment) : error;
  }
}

/** One message in proto3 JSON → the encoder's shape. Throws ProtoJsonError naming the path. */
export function messageFromProto3Json(type: protobuf.Type, value: unknown): unknown {
  const name = type.fullName.slice(1);
  switch (name) {
    case 'google.protobuf.Duration':
      if (typeof value === 'string') return durationFromJson(value);
      break;
    case 'google.protobuf.Struct':
      if (!isObject(value)) throw new ProtoJsonError('expected an object (google.protobuf.Struct)');
      return toStruct(value as { [key: string]: JsonValue });
    case 'google.protobuf.Value':
      return toStructValue(value as JsonValue);
    case 'google.protobuf.ListValue':
      if (!Array.isArray(value)) throw new ProtoJsonError('expected a list (google.protobuf.ListValue)');
      return { values: value.map((v) => toStructValue(v as JsonValue)) };
    case 'google.protobuf.Any': {
      if (!isObject(value)) throw new ProtoJsonError('expected an object with "@type"');
      const packed = anyTypeOf(type.root, value['@type']);
      const { '@type': atType, ...rest } = value;
      return withPath(`(${packed.fullName.slice(1)})`, () => ({ '@type': atType, ...(messageFromProto3Json(packed, rest) as Json) }));
    }
    default:
      if (wrapperTypes.has(name) && !isObject(value)) return { value };
  }
  if (!isObject(value)) throw new ProtoJsonError(`expected an object (${name})`);
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null || item === undefined) continue;
    const field = fieldOf(type, key);
    if (!field) throw new ProtoJsonError(`unknown field "${key}" of ${name}`).at(key);
    field.resolve();
    out[field.name] = withPath(field.name, () => {
      if (field.map) {
        if (!isObject(item)) throw new ProtoJsonError('expected an object (map)');
        return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, withPath(k, () => elementFromJson(field, v))]));
      }
      if (field.repeated) {
        if (!Array.isArray(item)) throw new ProtoJsonError('expected a list');
        return item.map((element, i) => withPath(`[${i}]`, () => elementFromJson(field, element)));
      }
      return elementFromJson(field, item);
    });
  }
  return out;
}

/**
 * Reads `value` as a message of `type` and checks that it encodes (every
 * field, enum value and Any type known to Envoy's protos): the result in the
 * encoder's shape, or the reason it does not decode.
 */
export function decodeProto3Json(type: protobuf.Type, value: unknown): { value: Json } | { error: string } {
  try {
    const converted = messageFromProto3Json(type, value) as Json;
    discardEncoding(encodeJson(type, converted));
    return { value: converted };
  } catch (error) {
    if (error instanceof ProtoJsonError) return { error: error.message };
    throw error;
  }
}
