// Reading the common ADS requests from their raw bytes, without protobufjs: Envoy names
// thousands of EDS clusters in a request (3,000 at 1,000 services), and the proxies of one
// scope name the same ones. A scan finds the type URL, the nonce and where the name lists
// are; the lists are then compared or pooled by their bytes and decoded only when no other
// request sent the same bytes. Anything else (a node, an error_detail, Delta's
// initial_resource_versions, resource locators, an unknown field) goes to the full decoder.
// Field numbers from envoy/service/discovery/v3/discovery.proto.
import { createHash } from 'node:crypto';

/** [start, end) of repeated-string entries, tags included; adjacent entries share one range. */
type Ranges = Array<[number, number]>;

/** Where a request type keeps the fields a scan reads. */
interface RequestLayout {
  readonly typeUrl: number;
  readonly nonce: number;
  /** Repeated string fields kept as byte ranges, in this order. */
  readonly lists: readonly number[];
  /** Fields passed over unread. */
  readonly skipped: readonly number[];
}

/** DiscoveryRequest: version_info = 1 (skipped), resource_names = 3, type_url = 4, response_nonce = 5. */
const sotwLayout: RequestLayout = { typeUrl: 4, nonce: 5, lists: [3], skipped: [1] };
/** DeltaDiscoveryRequest: type_url = 2, resource_names_subscribe = 3, resource_names_unsubscribe = 4, response_nonce = 6. */
const deltaLayout: RequestLayout = { typeUrl: 2, nonce: 6, lists: [3, 4], skipped: [] };

interface ScannedFields {
  typeUrl: string;
  responseNonce: string;
  /** One entry per layout list. */
  lists: Ranges[];
  /** A field the scan does not read is present. */
  other: boolean;
}

const utf8 = new TextDecoder();

/** Reads a varint at `pos`; undefined past the end or beyond 35 bits (no field length is that large). */
function readVarint(bytes: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) return undefined;
    const b = bytes[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { value, next: pos };
  }
  return undefined;
}

/** Undefined when the bytes are not a well-formed message of length-delimited fields. */
function scanFields(bytes: Uint8Array, layout: RequestLayout): ScannedFields | undefined {
  const out: ScannedFields = { typeUrl: '', responseNonce: '', lists: layout.lists.map(() => []), other: false };
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const tag = readVarint(bytes, pos);
    if (!tag) return undefined;
    const field = Math.floor(tag.value / 8);
    // Every field of both requests is length-delimited; anything else goes to the full decoder.
    if ((tag.value & 7) !== 2) return { ...out, other: true };
    const length = readVarint(bytes, tag.next);
    if (!length || length.next + length.value > bytes.length) return undefined;
    const end = length.next + length.value;
    const list = layout.lists.indexOf(field);
    if (list >= 0) {
      const ranges = out.lists[list]!;
      const last = ranges[ranges.length - 1];
      if (last && last[1] === start) last[1] = end;
      else ranges.push([start, end]);
    } else if (field === layout.typeUrl) out.typeUrl = utf8.decode(bytes.subarray(length.next, end));
    else if (field === layout.nonce) out.responseNonce = utf8.decode(bytes.subarray(length.next, end));
    else if (!layout.skipped.includes(field)) out.other = true;
    pos = end;
  }
  return out;
}

/** The entries' bytes (tags included) spell the name list exactly; they are usually one contiguous range. */
function namesKey(bytes: Uint8Array, ranges: Ranges): string {
  const hash = createHash('sha256');
  for (const [start, end] of ranges) hash.update(bytes.subarray(start, end));
  return hash.digest('base64');
}

function namesRegion(bytes: Uint8Array, ranges: Ranges): Uint8Array | undefined {
  if (ranges.length === 0) return bytes.subarray(0, 0);
  if (ranges.length > 1) return undefined;
  return bytes.subarray(ranges[0]![0], ranges[0]![1]);
}

/** The strings of well-formed entries (scanFields checked their tags and lengths). */
function namesIn(bytes: Uint8Array, ranges: Ranges): string[] {
  const names: string[] = [];
  for (const [start, end] of ranges) {
    let pos = start;
    while (pos < end) {
      const length = readVarint(bytes, readVarint(bytes, pos)!.next)!;
      pos = length.next + length.value;
      names.push(utf8.decode(bytes.subarray(length.next, pos)));
    }
  }
  return names;
}

/** One repeated-string field of a scanned request. */
export interface ScannedNames {
  /** No entries. */
  readonly empty: boolean;
  /** A digest of the entries as sent: equal for equal names in equal order. */
  key(): string;
  /** The names, decoded. */
  names(): string[];
}

function scannedNames(bytes: Uint8Array, ranges: Ranges): ScannedNames {
  return { empty: ranges.length === 0, key: () => namesKey(bytes, ranges), names: () => namesIn(bytes, ranges) };
}

/** What an ACK-like DiscoveryRequest says, read without decoding its resource names. */
export interface SotwAckScan {
  typeUrl: string;
  responseNonce: string;
  /** requestedNamesKey of the request, computed on demand. */
  resourceNamesKey(): string;
  /** requestedNamesBytes of the request (a view into it, not a copy). */
  readonly namesBytes: Uint8Array | undefined;
}

/**
 * Reads a DiscoveryRequest's top-level fields: type_url, response_nonce and the
 * raw resource_names. Undefined when it carries a node, an error_detail or
 * resource locators, or is malformed: those take the full decoder.
 */
export function scanSotwAck(bytes: Uint8Array): SotwAckScan | undefined {
  const fields = scanFields(bytes, sotwLayout);
  if (!fields || fields.other) return undefined;
  const names = fields.lists[0]!;
  return {
    typeUrl: fields.typeUrl,
    responseNonce: fields.responseNonce,
    resourceNamesKey: () => namesKey(bytes, names),
    namesBytes: namesRegion(bytes, names),
  };
}

/**
 * A DiscoveryRequest's resource_names entries as sent, tags included (a view into `bytes`):
 * equal bytes mean equal names in equal order. Undefined when other fields come between
 * them (then only requestedNamesKey compares them) or the request is unreadable.
 */
export function requestedNamesBytes(bytes: Uint8Array): Uint8Array | undefined {
  const fields = scanFields(bytes, sotwLayout);
  return fields ? namesRegion(bytes, fields.lists[0]!) : undefined;
}

/** A digest of a DiscoveryRequest's resource_names as sent (equal names in equal order give equal keys); undefined when unreadable. */
export function requestedNamesKey(bytes: Uint8Array): string | undefined {
  const fields = scanFields(bytes, sotwLayout);
  return fields ? namesKey(bytes, fields.lists[0]!) : undefined;
}

/** A DeltaDiscoveryRequest that only (un)subscribes names or acknowledges a response. */
export interface DeltaRequestScan {
  typeUrl: string;
  responseNonce: string;
  subscribe: ScannedNames;
  unsubscribe: ScannedNames;
}

/**
 * Reads a DeltaDiscoveryRequest's type_url, response_nonce and raw subscribe and unsubscribe
 * lists. Undefined when it carries a node, initial_resource_versions, an error_detail or
 * resource locators, or is malformed: those take the full decoder.
 */
export function scanDeltaRequest(bytes: Uint8Array): DeltaRequestScan | undefined {
  const fields = scanFields(bytes, deltaLayout);
  if (!fields || fields.other) return undefined;
  return {
    typeUrl: fields.typeUrl,
    responseNonce: fields.responseNonce,
    subscribe: scannedNames(bytes, fields.lists[0]!),
    unsubscribe: scannedNames(bytes, fields.lists[1]!),
  };
}
