// Hand-encoded ADS responses: the resources' bytes (already encoded once per
// change) are copied into each response without re-encoding, and a response
// many proxies share is encoded once, nonce included, and sent to each as the same bytes.
// Field numbers from envoy/service/discovery/v3/discovery.proto.
import protobuf from 'protobufjs';
import { lookupType } from '../../proto/envoyRoot.js';
import { structToJson, type DecodedValue } from '../../proto/struct.js';
import type { XdsResource } from '../resource.js';

export interface SotwResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  controlPlane: string;
  resources: readonly XdsResource[];
}

export interface DeltaResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  controlPlane: string;
  resources: readonly XdsResource[];
  removed: readonly string[];
}

/** envoy.config.core.v3.ControlPlane{identifier = 1}. */
function writeControlPlane(writer: protobuf.Writer, field: number, identifier: string): void {
  writer
    .uint32((field << 3) | 2)
    .fork()
    .uint32(10)
    .string(identifier)
    .ldelim();
}

/** A Buffer over the writer's bytes, without copying them. */
function finished(w: protobuf.Writer): Buffer {
  const bytes = w.finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A DiscoveryResponse's or DeltaDiscoveryResponse's bytes and the nonce they carry. */
export interface EncodedResponse {
  nonce: string;
  bytes: Buffer;
}

function sotwBytes(r: SotwResponse): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(10).string(r.versionInfo);
  for (const resource of r.resources) w.uint32(18).bytes(resource.any);
  w.uint32(34).string(r.typeUrl);
  w.uint32(42).string(r.nonce);
  writeControlPlane(w, 6, r.controlPlane);
  return finished(w);
}

/** The latest response encoded per shared resource array and protocol (one per push and type, whatever the number of proxies). */
type SharedResponses = WeakMap<readonly XdsResource[], { key: string; response: EncodedResponse }>;
const sharedSotw: SharedResponses = new WeakMap();
const sharedDelta: SharedResponses = new WeakMap();

/**
 * A response to one stream, its nonce taken from `nextNonce`. `shared`: `resources` is an array
 * the generator hands to many proxies (it is not modified later); the whole response, nonce
 * included, is then encoded once per `key` (version, type, ...) and every stream is sent the same
 * bytes, so no proxy costs a copy of them. A nonce only has to tell a stream's responses apart,
 * and streams sent identical responses may share one: acknowledging either means the same content.
 */
function encodeOnce(
  cache: SharedResponses,
  resources: readonly XdsResource[],
  key: string,
  nextNonce: () => string,
  shared: boolean,
  encode: (nonce: string) => Buffer,
): EncodedResponse {
  if (!shared) {
    const nonce = nextNonce();
    return { nonce, bytes: encode(nonce) };
  }
  const cached = cache.get(resources);
  if (cached?.key === key) return cached.response;
  const nonce = nextNonce();
  const response = { nonce, bytes: encode(nonce) };
  cache.set(resources, { key, response });
  return response;
}

/** Encodes a DiscoveryResponse; `shared` as in encodeOnce. */
export function encodeSotwResponse(r: Omit<SotwResponse, 'nonce'>, nextNonce: () => string, shared = false): EncodedResponse {
  const key = `${r.versionInfo}\n${r.typeUrl}\n${r.controlPlane}`;
  return encodeOnce(sharedSotw, r.resources, key, nextNonce, shared, (nonce) => sotwBytes({ ...r, nonce }));
}

/** Delta `Resource{version=1, resource=2, name=3}` bytes, cached per shared resource object. */
const deltaResourceBytes = new WeakMap<XdsResource, Uint8Array>();

function encodeDeltaResource(resource: XdsResource): Uint8Array {
  let bytes = deltaResourceBytes.get(resource);
  if (!bytes) {
    bytes = protobuf.Writer.create().uint32(10).string(resource.version).uint32(18).bytes(resource.any).uint32(26).string(resource.name).finish();
    deltaResourceBytes.set(resource, bytes);
  }
  return bytes;
}

function deltaBytes(r: DeltaResponse): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(10).string(r.systemVersionInfo);
  for (const resource of r.resources) w.uint32(18).bytes(encodeDeltaResource(resource));
  w.uint32(34).string(r.typeUrl);
  w.uint32(42).string(r.nonce);
  for (const name of r.removed) w.uint32(50).string(name);
  writeControlPlane(w, 7, r.controlPlane);
  return finished(w);
}

/**
 * Encodes a DeltaDiscoveryResponse; `shared` as in encodeOnce, for a response that removes nothing
 * (the streams of a scope moving from one generated array to the next are sent the same changes).
 */
export function encodeDeltaResponse(r: Omit<DeltaResponse, 'nonce'>, nextNonce: () => string, shared = false): EncodedResponse {
  const key = `${r.systemVersionInfo}\n${r.typeUrl}\n${r.controlPlane}`;
  return encodeOnce(sharedDelta, r.resources, key, nextNonce, shared && r.removed.length === 0, (nonce) => deltaBytes({ ...r, nonce }));
}

export interface DecodedNode {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  locality?: { region?: string; zone?: string; subZone?: string };
  userAgentName?: string;
}

export interface DecodedStatus {
  code: number;
  message: string;
}

export interface SotwRequest {
  versionInfo: string;
  node?: DecodedNode;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: DecodedStatus;
}

export interface DeltaRequest {
  node?: DecodedNode;
  typeUrl: string;
  subscribe: readonly string[];
  unsubscribe: readonly string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail?: DecodedStatus;
}

interface RawNode {
  id?: string;
  cluster?: string;
  metadata?: { fields?: Record<string, DecodedValue> };
  locality?: { region?: string; zone?: string; subZone?: string };
  userAgentName?: string;
}

function decodeNode(raw: RawNode | null | undefined): DecodedNode | undefined {
  if (!raw) return undefined;
  return {
    id: raw.id ?? '',
    cluster: raw.cluster ?? '',
    metadata: structToJson(raw.metadata),
    ...(raw.locality ? { locality: raw.locality } : {}),
    ...(raw.userAgentName ? { userAgentName: raw.userAgentName } : {}),
  };
}

/** How much of a NACK's error_detail message is kept (it lands in syncz, CSDS and a log line per NACK). */
export const maxErrorDetailBytes = 4096;

/** The message's first maxErrorDetailBytes (UTF-8, cut on a character), marked with its full size when cut. */
export function boundedErrorDetail(message: string): string {
  const bytes = Buffer.byteLength(message, 'utf8');
  if (bytes <= maxErrorDetailBytes) return message;
  // A character cut in half decodes as U+FFFD: drop it.
  const prefix = Buffer.from(message.slice(0, maxErrorDetailBytes), 'utf8')
    .subarray(0, maxErrorDetailBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${prefix}… (truncated, ${bytes} bytes)`;
}

function decodeStatus(raw: { code?: number; message?: string } | null | undefined): DecodedStatus | undefined {
  if (!raw) return undefined;
  return { code: raw.code ?? 0, message: boundedErrorDetail(raw.message ?? '') };
}

/** Throws protobufjs' error for bytes that are not a DiscoveryRequest. */
export function decodeSotwRequest(bytes: Uint8Array): SotwRequest {
  const type = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const m = type.decode(bytes) as unknown as {
    versionInfo?: string;
    node?: RawNode;
    resourceNames?: string[];
    typeUrl?: string;
    responseNonce?: string;
    errorDetail?: { code?: number; message?: string };
  };
  const node = decodeNode(m.node);
  const errorDetail = decodeStatus(m.errorDetail);
  return {
    versionInfo: m.versionInfo ?? '',
    ...(node ? { node } : {}),
    resourceNames: m.resourceNames ?? [],
    typeUrl: m.typeUrl ?? '',
    responseNonce: m.responseNonce ?? '',
    ...(errorDetail ? { errorDetail } : {}),
  };
}

export function decodeDeltaRequest(bytes: Uint8Array): DeltaRequest {
  const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const m = type.decode(bytes) as unknown as {
    node?: RawNode;
    typeUrl?: string;
    resourceNamesSubscribe?: string[];
    resourceNamesUnsubscribe?: string[];
    initialResourceVersions?: Record<string, string>;
    responseNonce?: string;
    errorDetail?: { code?: number; message?: string };
  };
  const node = decodeNode(m.node);
  const errorDetail = decodeStatus(m.errorDetail);
  return {
    ...(node ? { node } : {}),
    typeUrl: m.typeUrl ?? '',
    subscribe: m.resourceNamesSubscribe ?? [],
    unsubscribe: m.resourceNamesUnsubscribe ?? [],
    initialResourceVersions: m.initialResourceVersions ?? {},
    responseNonce: m.responseNonce ?? '',
    ...(errorDetail ? { errorDetail } : {}),
  };
}
