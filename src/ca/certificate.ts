// Assembles X.509 v3 certificates (RFC 5280) as DER and signs them through
// node:crypto, i.e. OpenSSL: the only expensive step of issuance runs native.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';
import { Oid } from './oids.js';

/** How one CA key signs: its algorithm identifier and digest. */
export interface SignatureAlgorithm {
  identifier: Buffer;
  hash: string;
}

/** Everything about the issuing certificate that goes into an issued one. */
export interface CertificateSigner {
  key: KeyObject;
  /** DER Name of the issuing certificate's subject: the issued certificate's issuer. */
  subjectName: Buffer;
  /** Subject key identifier of the issuing certificate (becomes the authority key identifier). */
  keyIdentifier: Buffer;
  algorithm: SignatureAlgorithm;
}

export type GeneralName = { uri: string } | { dns: string } | { ip: string };

export interface CertificateTemplate {
  subjectName: Buffer;
  subjectPublicKeyInfo: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

/** The signature algorithm a CA key signs with, or an Error for unsupported keys. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm | Error {
  if (key.asymmetricKeyType === 'rsa') {
    return { identifier: der.sequence(der.oid(Oid.sha256WithRsa), der.derNull()), hash: 'sha256' };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { identifier: der.sequence(der.oid(Oid.ecdsaWithSha256)), hash: 'sha256' };
    if (curve === 'secp384r1') return { identifier: der.sequence(der.oid(Oid.ecdsaWithSha384)), hash: 'sha384' };
    return new Error(`unsupported CA key curve ${curve ?? 'unknown'} (want P-256 or P-384)`);
  }
  return new Error(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'} (want RSA or ECDSA)`);
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierFor(subjectPublicKeyInfo: Buffer): Buffer {
  const spki = der.children(der.readSingle(subjectPublicKeyInfo, der.Tag.sequence));
  const keyBits = der.bitStringBytes(spki[1]!);
  return createHash('sha1').update(keyBits).digest();
}

/** A Name with a single Organization attribute (istiod's self-signed root carries O=trust domain). */
export function organizationName(org: string): Buffer {
  return der.sequence(der.set(der.sequence(der.oid(Oid.organizationName), der.utf8String(org))));
}

export const emptyName: Buffer = der.sequence();

// Serial numbers come from a pooled CSPRNG buffer: one randomBytes call per
// 4096 certificates instead of one each (measurable at thousands per second).
const serialBytes = 16;
let serialPool = Buffer.alloc(0);
let serialOffset = 0;

/** A 128-bit random serial number, as a positive INTEGER. */
export function randomSerial(): Buffer {
  if (serialOffset + serialBytes > serialPool.length) {
    serialPool = randomBytes(serialBytes * 4096);
    serialOffset = 0;
  }
  const bytes = serialPool.subarray(serialOffset, serialOffset + serialBytes);
  serialOffset += serialBytes;
  return der.unsignedInteger(bytes);
}

export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

function generalName(name: GeneralName): Buffer {
  if ('uri' in name) return der.implicitPrimitive(6, Buffer.from(name.uri, 'latin1'));
  if ('dns' in name) return der.implicitPrimitive(2, Buffer.from(name.dns, 'latin1'));
  return der.implicitPrimitive(7, ipAddressBytes(name.ip));
}

function ipAddressBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new Error(`not an IP address: ${ip}`);
  const [head, tail = ''] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const zeros = new Array<string>(8 - headParts.length - tailParts.length).fill('0');
  const groups = ip.includes('::') ? [...headParts, ...zeros, ...tailParts] : headParts;
  return Buffer.from(
    groups.flatMap((g) => {
      const v = parseInt(g, 16);
      return [v >> 8, v & 0xff];
    }),
  );
}

// keyUsage bits (RFC 5280 4.2.1.3), numbered from the most significant bit.
const digitalSignatureAndKeyEncipherment = Buffer.from([0x03, 0x02, 0x05, 0xa0]);
const keyCertSignAndCrlSign = Buffer.from([0x03, 0x02, 0x01, 0x06]);

let leafConstants: Buffer[] | undefined;
/** keyUsage, extKeyUsage and basicConstraints: the same bytes in every leaf, encoded once. */
function constantLeafExtensions(): Buffer[] {
  leafConstants ??= [
    extension(Oid.keyUsage, true, digitalSignatureAndKeyEncipherment),
    extension(Oid.extKeyUsage, false, der.sequence(der.oid(Oid.serverAuth), der.oid(Oid.clientAuth))),
    extension(Oid.basicConstraints, true, der.sequence()),
  ];
  return leafConstants;
}

/** Extensions of a workload or serving (leaf) certificate. */
export function leafExtensions(opts: {
  subjectAltNames: GeneralName[];
  subjectPublicKeyInfo: Buffer;
  authorityKeyIdentifier: Buffer;
  /** RFC 5280 4.2.1.6: SAN is critical when the subject is empty. */
  subjectIsEmpty: boolean;
}): Buffer[] {
  return [
    ...constantLeafExtensions(),
    extension(Oid.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, opts.authorityKeyIdentifier))),
    extension(Oid.subjectKeyIdentifier, false, der.octetString(keyIdentifierFor(opts.subjectPublicKeyInfo))),
    extension(Oid.subjectAltName, opts.subjectIsEmpty, der.sequence(...opts.subjectAltNames.map(generalName))),
  ];
}

/** Extensions of a self-signed root CA certificate. */
export function rootCaExtensions(subjectPublicKeyInfo: Buffer): Buffer[] {
  const keyId = keyIdentifierFor(subjectPublicKeyInfo);
  return [
    extension(Oid.keyUsage, true, keyCertSignAndCrlSign),
    extension(Oid.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(Oid.subjectKeyIdentifier, false, der.octetString(keyId)),
    extension(Oid.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyId))),
  ];
}

/** The DER TBSCertificate: everything the signature covers. */
export function toBeSigned(template: CertificateTemplate, signer: CertificateSigner): Buffer {
  return der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    randomSerial(),
    signer.algorithm.identifier,
    signer.subjectName,
    der.sequence(der.time(template.notBefore), der.time(template.notAfter)),
    template.subjectName,
    template.subjectPublicKeyInfo,
    der.explicit(3, der.sequence(...template.extensions)),
  );
}

function assemble(tbs: Buffer, signer: CertificateSigner, signature: Buffer): Buffer {
  return der.sequence(tbs, signer.algorithm.identifier, der.bitString(signature));
}

/** Builds and signs a certificate on this thread (OpenSSL); returns its DER. */
export function issueCertificate(template: CertificateTemplate, signer: CertificateSigner): Buffer {
  const tbs = toBeSigned(template, signer);
  return assemble(tbs, signer, sign(signer.algorithm.hash, tbs, signer.key));
}

/**
 * Same, with the signature computed on libuv's thread pool (node:crypto's
 * callback form), so the event loop that also serves xDS is not blocked for
 * the ~0.3 ms an RSA-2048 signature takes, and signing uses every core.
 */
export function issueCertificateAsync(template: CertificateTemplate, signer: CertificateSigner): Promise<Buffer> {
  const tbs = toBeSigned(template, signer);
  return new Promise((resolve, reject) => {
    sign(signer.algorithm.hash, tbs, signer.key, (err, signature) => (err ? reject(err) : resolve(assemble(tbs, signer, signature))));
  });
}

/** Subject Name, SubjectPublicKeyInfo and subject key identifier of a certificate, read from its DER. */
export function certificateFields(certificateDer: Buffer): {
  subjectName: Buffer;
  subjectPublicKeyInfo: Buffer;
  subjectKeyIdentifier: Buffer | undefined;
} {
  const [tbs] = der.children(der.readSingle(certificateDer, der.Tag.sequence));
  const fields = der.children(der.expectTag(tbs!, der.Tag.sequence));
  // version [0] is optional; everything after it is positional.
  const base = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subjectName = fields[base + 4]!.bytes;
  const subjectPublicKeyInfo = fields[base + 5]!.bytes;
  let subjectKeyIdentifier: Buffer | undefined;
  const extensionsWrapper = fields.find((f) => f.tag === 0xa3);
  if (extensionsWrapper) {
    const [list] = der.children(extensionsWrapper);
    for (const ext of der.children(list!)) {
      const parts = der.children(ext);
      if (der.decodeOid(parts[0]!) !== Oid.subjectKeyIdentifier) continue;
      const value = der.expectTag(parts[parts.length - 1]!, der.Tag.octetString).content;
      subjectKeyIdentifier = der.readSingle(value, der.Tag.octetString).content;
    }
  }
  return { subjectName, subjectPublicKeyInfo, subjectKeyIdentifier };
}
