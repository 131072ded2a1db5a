// PKCS#10 certificate signing requests (RFC 2986): parse, verify the
// proof-of-possession signature (node:crypto) and extract what the CSR asks
// for, so the authority can decide whether to grant it.
import { verify, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { csrSignatureAlgorithms, Oid } from './oids.js';
import { decodePemBlocks } from './pem.js';
import { publicKeyFromSpki, UnsupportedKeyError } from './publicKey.js';
import type { SigningProblem } from './problems.js';

export interface CertificateRequest {
  /** DER SubjectPublicKeyInfo, copied verbatim into the issued certificate. */
  subjectPublicKeyInfo: Buffer;
  publicKey: KeyObject;
  /** Human-readable key description for logs, e.g. "RSA 2048" or "ECDSA P-256". */
  keyDescription: string;
  uris: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emails: string[];
  /** Count of SAN entries of other kinds (otherName, directoryName, ...). */
  otherNames: number;
  /** basicConstraints cA=TRUE or keyUsage keyCertSign/cRLSign. */
  requestsCa: boolean;
}

export type CsrResult = { ok: true; csr: CertificateRequest } | { ok: false; problem: SigningProblem };

const fail = (kind: SigningProblem['kind'], reason: string): CsrResult => ({ ok: false, problem: { kind, reason } });

/** Parses a PEM CSR, checks its key policy and signature, and lists what it requests. */
export function parseCertificateRequest(pem: string): CsrResult {
  let blocks;
  try {
    blocks = decodePemBlocks(pem);
  } catch (e) {
    return fail('malformed-csr', (e as Error).message);
  }
  const requests = blocks.filter((b) => b.type === 'CERTIFICATE REQUEST' || b.type === 'NEW CERTIFICATE REQUEST');
  if (requests.length !== 1 || blocks.length !== 1) {
    return fail('malformed-csr', `expected exactly one PEM CERTIFICATE REQUEST block, found ${blocks.length} block(s)`);
  }
  let info: der.DerElement, algorithmOid: string, signature: Buffer;
  let spki: der.DerElement, attributes: der.DerElement | undefined;
  try {
    const top = der.children(der.readSingle(requests[0]!.der, der.Tag.sequence));
    if (top.length !== 3) throw new der.DerError('CertificationRequest must have 3 fields');
    info = der.expectTag(top[0]!, der.Tag.sequence);
    algorithmOid = der.decodeOid(der.children(der.expectTag(top[1]!, der.Tag.sequence))[0]!);
    signature = der.bitStringBytes(top[2]!);
    const infoFields = der.children(info);
    if (infoFields.length < 3) throw new der.DerError('CertificationRequestInfo is too short');
    der.expectTag(infoFields[0]!, der.Tag.integer);
    der.expectTag(infoFields[1]!, der.Tag.sequence);
    spki = der.expectTag(infoFields[2]!, der.Tag.sequence);
    attributes = infoFields[3];
  } catch (e) {
    return fail('malformed-csr', `CSR is not valid DER PKCS#10: ${(e as Error).message}`);
  }

  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(spki.bytes);
  } catch (e) {
    if (e instanceof UnsupportedKeyError) return fail('weak-key', e.message);
    return fail('malformed-csr', `CSR public key cannot be parsed: ${(e as Error).message}`);
  }
  const keyCheck = checkKeyPolicy(publicKey);
  if (!keyCheck.ok) return fail('weak-key', keyCheck.reason);

  if (algorithmOid === Oid.sha1WithRsa) return fail('weak-key', 'CSR is signed with SHA-1, which is not accepted');
  const algorithm = csrSignatureAlgorithms.get(algorithmOid);
  if (!algorithm) return fail('malformed-csr', `unsupported CSR signature algorithm ${algorithmOid}`);
  if (algorithm.keyType !== publicKey.asymmetricKeyType) {
    return fail('bad-signature', `CSR signature algorithm ${algorithmOid} does not match its ${keyCheck.description} key`);
  }
  let signatureValid: boolean;
  try {
    signatureValid = verify(algorithm.hash, info.bytes, publicKey, signature);
  } catch {
    signatureValid = false;
  }
  if (!signatureValid) return fail('bad-signature', 'CSR signature does not verify with its own public key');

  const requested = {
    uris: [] as string[],
    dnsNames: [] as string[],
    ipAddresses: [] as string[],
    emails: [] as string[],
    otherNames: 0,
    requestsCa: false,
  };
  try {
    if (attributes) readRequestedExtensions(attributes, requested);
  } catch (e) {
    return fail('malformed-csr', `CSR extension request is malformed: ${(e as Error).message}`);
  }
  return {
    ok: true,
    csr: { subjectPublicKeyInfo: spki.bytes, publicKey, keyDescription: keyCheck.description, ...requested },
  };
}

/** RSA of at least 2048 bits (at most 8192, to bound verification cost) or ECDSA P-256/P-384. */
export function checkKeyPolicy(key: KeyObject): { ok: true; description: string } | { ok: false; reason: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) return { ok: false, reason: `RSA key of ${bits} bits is too weak (minimum 2048)` };
    if (bits > 8192) return { ok: false, reason: `RSA key of ${bits} bits is larger than the 8192-bit limit` };
    return { ok: true, description: `RSA ${bits}` };
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { ok: true, description: 'ECDSA P-256' };
    if (details.namedCurve === 'secp384r1') return { ok: true, description: 'ECDSA P-384' };
    return { ok: false, reason: `ECDSA curve ${details.namedCurve ?? 'unknown'} is not accepted (P-256 or P-384)` };
  }
  return { ok: false, reason: `key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted (RSA or ECDSA)` };
}

type RequestedNames = Omit<CertificateRequest, 'subjectPublicKeyInfo' | 'publicKey' | 'keyDescription'>;

function readRequestedExtensions(attributes: der.DerElement, out: RequestedNames): void {
  if (attributes.tag !== 0xa0) throw new der.DerError('attributes must be [0]');
  for (const attribute of der.children(attributes)) {
    const [type, values] = der.children(der.expectTag(attribute, der.Tag.sequence));
    if (!type || !values || der.decodeOid(type) !== Oid.extensionRequest) continue;
    for (const extensions of der.children(der.expectTag(values, der.Tag.set))) {
      for (const ext of der.children(der.expectTag(extensions, der.Tag.sequence))) {
        readExtension(der.children(der.expectTag(ext, der.Tag.sequence)), out);
      }
    }
  }
}

function readExtension(parts: der.DerElement[], out: RequestedNames): void {
  const id = der.decodeOid(parts[0]!);
  const value = der.expectTag(parts[parts.length - 1]!, der.Tag.octetString).content;
  if (id === Oid.subjectAltName) {
    for (const name of der.children(der.readSingle(value, der.Tag.sequence))) {
      const text = name.content.toString('latin1');
      switch (name.tag) {
        case 0x86:
          out.uris.push(text);
          break;
        case 0x82:
          out.dnsNames.push(text);
          break;
        case 0x81:
          out.emails.push(text);
          break;
        case 0x87:
          out.ipAddresses.push(formatIp(name.content));
          break;
        default:
          out.otherNames++;
      }
    }
  } else if (id === Oid.basicConstraints) {
    const fields = der.children(der.readSingle(value, der.Tag.sequence));
    if (fields[0]?.tag === der.Tag.boolean && fields[0].content[0] !== 0) out.requestsCa = true;
  } else if (id === Oid.keyUsage) {
    const bits = der.expectTag(der.readSingle(value), der.Tag.bitString).content;
    // keyCertSign is bit 5 (0x04), cRLSign bit 6 (0x02) of the first byte.
    if (bits.length > 1 && (bits[1]! & 0x06) !== 0) out.requestsCa = true;
  }
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}
