// Object identifiers used by PKCS#10 and X.509 (RFC 2986, RFC 5280, RFC 5758).

export const Oid = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  extensionRequest: '1.2.840.113549.1.9.14',
  organizationName: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** Signature algorithms accepted on CSRs, with the digest node:crypto uses to verify them. */
export const csrSignatureAlgorithms: ReadonlyMap<string, { hash: string; keyType: 'rsa' | 'ec' }> = new Map([
  [Oid.sha256WithRsa, { hash: 'sha256', keyType: 'rsa' }],
  [Oid.sha384WithRsa, { hash: 'sha384', keyType: 'rsa' }],
  [Oid.sha512WithRsa, { hash: 'sha512', keyType: 'rsa' }],
  [Oid.ecdsaWithSha256, { hash: 'sha256', keyType: 'ec' }],
  [Oid.ecdsaWithSha384, { hash: 'sha384', keyType: 'ec' }],
  [Oid.ecdsaWithSha512, { hash: 'sha512', keyType: 'ec' }],
]);
