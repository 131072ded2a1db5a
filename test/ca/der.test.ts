// The hand-written DER and PEM layer under CSR parsing and certificate
// assembly, checked against node:crypto's own parser and hostile input.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as der from '../../src/ca/der.js';
import { decodePemBlocks, encodePem } from '../../src/ca/pem.js';
import { testCaMaterial } from '../support/ca.js';

describe('DER', () => {
  it('encodes INTEGERs minimally and non-negative', () => {
    expect(der.unsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex')).toBe('02017f');
    expect(der.unsignedInteger(Buffer.from([0x80])).toString('hex')).toBe('02020080');
    expect(der.unsignedInteger(Buffer.from([0x00])).toString('hex')).toBe('020100');
    expect(der.smallInteger(2).toString('hex')).toBe('020102');
  });

  it('round-trips object identifiers', () => {
    for (const oid of ['1.2.840.113549.1.1.11', '2.5.29.17', '1.3.6.1.5.5.7.3.2', '2.999.1']) {
      expect(der.decodeOid(der.readSingle(der.oid(oid)))).toBe(oid);
    }
  });

  it('uses UTCTime before 2050 and GeneralizedTime from 2050 (RFC 5280)', () => {
    expect(der.time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(der.time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(der.Tag.generalizedTime);
  });

  it('uses long-form lengths that node:crypto accepts in a whole certificate', () => {
    const root = testCaMaterial().root;
    const reparsed = der.readSingle(root.raw, der.Tag.sequence);
    expect(reparsed.bytes.equals(root.raw)).toBe(true);
    expect(new X509Certificate(der.sequence(...der.children(reparsed).map((c) => c.bytes))).fingerprint256).toBe(root.fingerprint256);
  });

  it.each([
    ['a truncated element', Buffer.from('3005020101', 'hex'), /runs past the end/],
    ['a non-minimal length', Buffer.from('30810101', 'hex'), /non-minimal/],
    ['an indefinite length', Buffer.from('3080', 'hex'), /unsupported DER length/],
    ['trailing bytes', Buffer.from('300000', 'hex'), /trailing bytes/],
  ])('rejects %s', (_name, bytes, reason) => {
    expect(() => der.readSingle(bytes)).toThrow(reason);
  });
});

describe('PEM', () => {
  it('round-trips blocks', () => {
    const pem = encodePem('CERTIFICATE', testCaMaterial().root.raw) + encodePem('CERTIFICATE REQUEST', Buffer.from('abc'));
    expect(decodePemBlocks(pem).map((b) => b.type)).toEqual(['CERTIFICATE', 'CERTIFICATE REQUEST']);
    expect(decodePemBlocks(pem)[0]!.der.equals(testCaMaterial().root.raw)).toBe(true);
  });

  it('rejects a block without END, and many of them without rescanning the input', () => {
    const hostile = '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n'.repeat(2000);
    expect(() => decodePemBlocks(hostile)).toThrow(/no END line/);
  });

  it('rejects a body that is not base64', () => {
    expect(() => decodePemBlocks('-----BEGIN X-----\n!!!\n-----END X-----\n')).toThrow(/not base64/);
  });
});
