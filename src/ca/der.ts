// Minimal DER (ASN.1 distinguished encoding) reader and writer: just what
// PKCS#10 parsing and X.509 certificate assembly need. Hand-written because it
// sits on the signing hot path, where a general ASN.1 library costs more than
// the RSA signature itself; the signature always goes through node:crypto.

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** One decoded TLV: `bytes` is the whole element, `content` its value. */
export interface DerElement {
  tag: number;
  bytes: Buffer;
  content: Buffer;
}

export class DerError extends Error {}

/** Reads the element starting at `offset`; throws DerError on truncation or non-DER lengths. */
export function readElement(buf: Buffer, offset = 0): DerElement {
  if (offset + 2 > buf.length) throw new DerError('truncated DER element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  const lengthByte = buf[offset + 1]!;
  let headerLength = 2;
  let length: number;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new DerError('unsupported DER length encoding');
    if (offset + 2 + count > buf.length) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (length < 0x80 || buf[offset + 2]! === 0) throw new DerError('non-minimal DER length');
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > buf.length) throw new DerError('DER element runs past the end of its container');
  return {
    tag,
    bytes: buf.subarray(offset, end),
    content: buf.subarray(offset + headerLength, end),
  };
}

/** Reads exactly one element spanning the whole buffer. */
export function readSingle(buf: Buffer, expectedTag?: number): DerElement {
  const el = readElement(buf, 0);
  if (el.bytes.length !== buf.length) throw new DerError('trailing bytes after DER element');
  if (expectedTag !== undefined) expectTag(el, expectedTag);
  return el;
}

/** The child elements of a constructed element (SEQUENCE, SET, context tags). */
export function children(el: DerElement): DerElement[] {
  const out: DerElement[] = [];
  let offset = 0;
  while (offset < el.content.length) {
    const child = readElement(el.content, offset);
    out.push(child);
    offset += child.bytes.length;
  }
  return out;
}

export function expectTag(el: DerElement, tag: number): DerElement {
  if (el.tag !== tag) {
    throw new DerError(`expected DER tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  }
  return el;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content. */
export function decodeOid(el: DerElement): string {
  expectTag(el, Tag.oid);
  const bytes = el.content;
  if (bytes.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

/** The bits of a BIT STRING with zero unused bits (keys, signatures). */
export function bitStringBytes(el: DerElement): Buffer {
  expectTag(el, Tag.bitString);
  if (el.content.length === 0 || el.content[0] !== 0) {
    throw new DerError('BIT STRING with unused bits where whole bytes are expected');
  }
  return el.content.subarray(1);
}

// ---------------------------------------------------------------- writer

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV from a tag and already-encoded content parts. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const content = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export const sequence = (...parts: Buffer[]): Buffer => tlv(Tag.sequence, ...parts);
export const set = (...parts: Buffer[]): Buffer => tlv(Tag.set, ...parts);
export const octetString = (value: Buffer): Buffer => tlv(Tag.octetString, value);
export const derNull = (): Buffer => Buffer.from([Tag.null, 0]);
export const boolean = (value: boolean): Buffer => Buffer.from([Tag.boolean, 1, value ? 0xff : 0]);
/** Context-specific constructed tag [n] (EXPLICIT wrapping). */
export const explicit = (n: number, ...parts: Buffer[]): Buffer => tlv(0xa0 | n, ...parts);
/** Context-specific primitive tag [n] (IMPLICIT string-like values). */
export const implicitPrimitive = (n: number, value: Buffer): Buffer => tlv(0x80 | n, value);

/** A BIT STRING carrying whole bytes. */
export function bitString(bytes: Buffer): Buffer {
  return tlv(Tag.bitString, Buffer.from([0]), bytes);
}

/** A non-negative INTEGER from big-endian magnitude bytes (minimal DER form). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return needsPad ? tlv(Tag.integer, Buffer.from([0]), trimmed) : tlv(Tag.integer, trimmed);
}

export function smallInteger(value: number): Buffer {
  const bytes: number[] = [];
  let n = value;
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return unsignedInteger(Buffer.from(bytes));
}

const oidCache = new Map<string, Buffer>();

export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map(Number);
  const body: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    body.push(...chunk);
  }
  const encoded = tlv(Tag.oid, Buffer.from(body));
  oidCache.set(dotted, encoded);
  return encoded;
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 requires. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.utcTime, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  return tlv(Tag.generalizedTime, Buffer.from(`${digits}Z`, 'latin1'));
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.utf8String, Buffer.from(value, 'utf8'));
}
