// Builds PKCS#10 CSRs in-process for the CA bench (generating thousands with
// the openssl CLI would take minutes). Signed with node:crypto.
import { generateKeyPairSync, sign } from 'node:crypto';
import * as der from '../src/ca/der.js';
import { Oid } from '../src/ca/oids.js';
import { encodePem } from '../src/ca/pem.js';

export type BenchKeyType = 'rsa2048' | 'p256';

/** A CSR for `spiffeId` with a fresh key of the given type. */
export function benchCsr(spiffeId: string, keyType: BenchKeyType): string {
  const { privateKey, publicKey } =
    keyType === 'rsa2048' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const san = der.sequence(der.implicitPrimitive(6, Buffer.from(spiffeId, 'latin1')));
  const extensions = der.sequence(der.sequence(der.oid(Oid.subjectAltName), der.octetString(san)));
  const attributes = der.explicit(0, der.sequence(der.oid(Oid.extensionRequest), der.set(extensions)));
  const info = der.sequence(der.smallInteger(0), der.sequence(), spki, attributes);
  const algorithm = keyType === 'rsa2048' ? der.sequence(der.oid(Oid.sha256WithRsa), der.derNull()) : der.sequence(der.oid(Oid.ecdsaWithSha256));
  const signature = sign('sha256', info, privateKey);
  return encodePem('CERTIFICATE REQUEST', der.sequence(info, algorithm, der.bitString(signature)));
}
