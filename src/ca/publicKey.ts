// SubjectPublicKeyInfo → node:crypto KeyObject, through JWK. OpenSSL 3's
// generic DER decoder costs ~280 µs per RSA key (as much as the RSA signature
// itself), while importing the same key from its JWK parameters costs ~5 µs;
// this is the hot path of every CSR, so the SPKI is read here instead.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import * as der from './der.js';

const rsaEncryption = '1.2.840.113549.1.1.1';
const ecPublicKey = '1.2.840.10045.2.1';
const curvesByOid: ReadonlyMap<string, { jwk: string; openssl: string; coordinateBytes: number }> = new Map([
  ['1.2.840.10045.3.1.7', { jwk: 'P-256', openssl: 'prime256v1', coordinateBytes: 32 }],
  ['1.3.132.0.34', { jwk: 'P-384', openssl: 'secp384r1', coordinateBytes: 48 }],
  ['1.3.132.0.35', { jwk: 'P-521', openssl: 'secp521r1', coordinateBytes: 66 }],
]);
const knownKeyTypes: ReadonlyMap<string, string> = new Map([
  ['1.3.101.112', 'ed25519'],
  ['1.3.101.113', 'ed448'],
  ['1.2.840.113549.1.1.10', 'rsa-pss'],
  ['1.2.840.10040.4.1', 'dsa'],
]);

export class UnsupportedKeyError extends Error {}

function unsignedBytes(el: der.DerElement): Buffer {
  der.expectTag(el, der.Tag.integer);
  let start = 0;
  while (start < el.content.length - 1 && el.content[start] === 0) start++;
  return el.content.subarray(start);
}

/**
 * Imports an RSA or EC public key from its DER SubjectPublicKeyInfo. Throws
 * UnsupportedKeyError for other key types or curves (policy), DerError or a
 * crypto error for malformed keys.
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const [algorithm, keyBits] = der.children(der.readSingle(spki, der.Tag.sequence));
  if (!algorithm || !keyBits) throw new der.DerError('SubjectPublicKeyInfo must have 2 fields');
  const [algorithmOid, parameters] = der.children(der.expectTag(algorithm, der.Tag.sequence));
  const keyType = der.decodeOid(algorithmOid!);
  const bits = der.bitStringBytes(keyBits);
  let jwk: JsonWebKey;
  if (keyType === rsaEncryption) {
    const [n, e] = der.children(der.readSingle(bits, der.Tag.sequence));
    if (!n || !e) throw new der.DerError('RSAPublicKey must have modulus and exponent');
    jwk = { kty: 'RSA', n: unsignedBytes(n).toString('base64url'), e: unsignedBytes(e).toString('base64url') };
  } else if (keyType === ecPublicKey) {
    if (!parameters || parameters.tag !== der.Tag.oid) throw new UnsupportedKeyError('EC key without a named curve');
    const curveOid = der.decodeOid(parameters);
    const curve = curvesByOid.get(curveOid);
    if (!curve) throw new UnsupportedKeyError(`ECDSA curve ${curveOid} is not accepted (P-256 or P-384)`);
    if (curve.jwk === 'P-521') throw new UnsupportedKeyError(`ECDSA curve ${curve.openssl} is not accepted (P-256 or P-384)`);
    const size = curve.coordinateBytes;
    if (bits.length !== 1 + 2 * size || bits[0] !== 0x04) {
      throw new der.DerError('EC public key must be an uncompressed point');
    }
    jwk = {
      kty: 'EC',
      crv: curve.jwk,
      x: bits.subarray(1, 1 + size).toString('base64url'),
      y: bits.subarray(1 + size).toString('base64url'),
    };
  } else {
    throw new UnsupportedKeyError(`key type ${knownKeyTypes.get(keyType) ?? keyType} is not accepted (RSA or ECDSA)`);
  }
  return createPublicKey({ key: jwk, format: 'jwk' });
}
