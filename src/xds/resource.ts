// An xDS resource encoded once and shared by every proxy that receives it.
// Generators build these; the ADS server only copies their bytes onto streams.
// The type URLs and the resource's shape are the push layer's (src/push/xdsContract.ts).
import { hash } from 'node:crypto';
import type protobuf from 'protobufjs';
import { lookupType } from '../proto/envoyRoot.js';
import { encodeJsonAsAny } from '../proto/jsonEncoder.js';
import { TypeUrl, type XdsResource } from '../push/xdsContract.js';

export { TypeUrl, type XdsResource } from '../push/xdsContract.js';

/** istiod's short names for the four main xDS types, as proxy-status prints them. */
export const shortTypeName: Readonly<Record<string, string>> = {
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.RouteConfiguration]: 'RDS',
  [TypeUrl.ClusterLoadAssignment]: 'EDS',
  [TypeUrl.Secret]: 'SDS',
};

/** Wildcard types (LDS, CDS): a State-of-the-World response always carries the full set. */
export const wildcardTypes: ReadonlySet<string> = new Set([TypeUrl.Cluster, TypeUrl.Listener]);

/** Process-wide count of resource encodings: benchmarks compare it with pushes. */
export const encodeStats = { resources: 0 };

const typeNameFromUrl = (typeUrl: string): string => typeUrl.slice(typeUrl.lastIndexOf('/') + 1);

export function contentVersion(bytes: Uint8Array): string {
  // One-shot hash: about twice as fast as a Hash object for resource-sized inputs.
  return hash('sha1', bytes, 'base64url').slice(0, 16);
}

/**
 * Encodes a resource given as a protobufjs JSON object (camelCase fields,
 * `@type`-tagged Any values). Throws ProtoJsonError, naming the field, if the
 * object does not fit the proto (unknown fields and enum names included).
 */
export function encodeResource(typeUrl: string, name: string, message: Record<string, unknown>): XdsResource {
  encodeStats.resources++;
  const { any } = encodeJsonAsAny(typeUrl, lookupType(typeNameFromUrl(typeUrl)), message);
  return { typeUrl, name, version: contentVersion(any), any };
}

/** Decodes an encoded Any back to JSON (for config_dump, tests and CSDS). */
export function decodeAnyToJson(any: Uint8Array): Record<string, unknown> {
  const anyType = lookupType('google.protobuf.Any');
  // protobufjs' built-in Any keeps the snake_case field name.
  const decoded = anyType.decode(any) as unknown as { type_url?: string; typeUrl?: string; value: Uint8Array };
  const typeUrl = decoded.type_url ?? decoded.typeUrl ?? '';
  const type = lookupType(typeNameFromUrl(typeUrl));
  const json = type.toObject(type.decode(decoded.value), jsonConversion);
  return { '@type': typeUrl, ...json };
}

/** Like decodeAnyToJson, with Struct values as plain objects, as Envoy's config_dump shows them. Not re-encodable. */
export function decodeAnyForDisplay(any: Uint8Array): Record<string, unknown> {
  return structsToPlainJson(decodeAnyToJson(any)) as Record<string, unknown>;
}

const valueKinds = new Set(['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue']);

function isStruct(o: Record<string, unknown>): o is { fields: Record<string, Record<string, unknown>> } {
  const keys = Object.keys(o);
  if (keys.length !== 1 || keys[0] !== 'fields' || !o.fields || typeof o.fields !== 'object') return false;
  return Object.values(o.fields as Record<string, unknown>).every(
    (v) => v !== null && typeof v === 'object' && Object.keys(v).length === 1 && valueKinds.has(Object.keys(v)[0]!),
  );
}

function plainValue(v: Record<string, unknown>): unknown {
  if ('structValue' in v) return structsToPlainJson(v.structValue);
  if ('listValue' in v) return ((v.listValue as { values?: Record<string, unknown>[] }).values ?? []).map(plainValue);
  if ('nullValue' in v) return null;
  return Object.values(v)[0];
}

/** google.protobuf.Struct as proto3 JSON renders it (a plain object), as Envoy's config_dump shows metadata. */
function structsToPlainJson(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structsToPlainJson);
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (isStruct(o)) return Object.fromEntries(Object.entries(o.fields).map(([k, v]) => [k, plainValue(v)]));
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, structsToPlainJson(v)]));
}

/** protobufjs toObject options that give proto3 JSON-like output. */
export const jsonConversion: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: false,
  json: true,
};
