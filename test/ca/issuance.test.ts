// Certificates the CA issues from openssl-made CSRs: verified by `openssl
// verify` and node:crypto, with every field the issue requires checked.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/index.js';
import { opensslCsr, opensslText, opensslVerify, tamperedSignature, testCaMaterial } from '../support/ca.js';

const identity = 'spiffe://cluster.local/ns/default/sa/reviews';
const hour = 3600 * 1000;

describe('workload certificate issuance', () => {
  const material = testCaMaterial();
  const ca = new CertificateAuthority(material);

  it('issues a 24h SPIFFE certificate that openssl and node:crypto verify against the root', () => {
    const { csrPem } = opensslCsr({ sans: [`URI:${identity}`] });
    const now = new Date();
    const issued = ca.signWorkloadCsr(csrPem, identity, 0, now);
    if (!issued.ok) throw new Error(issued.problem.reason);

    // Chain: leaf first, root last (self-signed root: two entries).
    expect(issued.certChain).toHaveLength(2);
    expect(issued.certChain[1]).toBe(material.root.toString());
    const leafPem = issued.certChain[0]!;
    expect(opensslVerify(material.rootBundlePem, leafPem)).toContain(': OK');

    const leaf = new X509Certificate(leafPem);
    expect(leaf.verify(material.root.publicKey)).toBe(true);
    expect(leaf.checkIssued(material.root)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe(`URI:${identity}`);
    expect(leaf.subject ?? '').toBe(''); // empty subject: identity lives in the SAN only
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // serverAuth, clientAuth
    const notBefore = new Date(leaf.validFrom).getTime();
    const notAfter = new Date(leaf.validTo).getTime();
    expect(notAfter - now.getTime()).toBeGreaterThan(24 * hour - 2000);
    expect(notAfter - now.getTime()).toBeLessThanOrEqual(24 * hour);
    // notBefore is set back for clock skew (by 2 minutes; second precision).
    expect(now.getTime() - notBefore).toBeGreaterThanOrEqual(119_000);
    expect(now.getTime() - notBefore).toBeLessThan(5 * 60_000);
    // 128-bit random serial: at most 17 bytes once DER adds a sign byte, not tiny.
    expect(leaf.serialNumber.length).toBeGreaterThanOrEqual(24);
    expect(leaf.serialNumber.length).toBeLessThanOrEqual(34);

    const text = opensslText(leafPem);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:/);
    const rootSki = /X509v3 Subject Key Identifier:\s+([0-9A-F:]+)/.exec(opensslText(material.root.toString()))![1];
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/reviews/);
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
  });

  it('gives two certificates different random serials', () => {
    const { csrPem } = opensslCsr({ key: 'p256', sans: [`URI:${identity}`] });
    const a = ca.signWorkloadCsr(csrPem, identity, 0);
    const b = ca.signWorkloadCsr(csrPem, identity, 0);
    if (!a.ok || !b.ok) throw new Error('issuance failed');
    expect(new X509Certificate(a.certChain[0]!).serialNumber).not.toBe(new X509Certificate(b.certChain[0]!).serialNumber);
  });

  it.each(['p256', 'p384', 'rsa3072'] as const)('accepts %s keys and keeps the CSR public key', (key) => {
    const { csrPem, keyPem } = opensslCsr({ key, sans: [`URI:${identity}`] });
    const issued = ca.signWorkloadCsr(csrPem, identity, 3600);
    if (!issued.ok) throw new Error(issued.problem.reason);
    const leaf = new X509Certificate(issued.certChain[0]!);
    expect(leaf.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeLessThanOrEqual(3600 * 1000);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(3500 * 1000);
    expect(opensslVerify(material.rootBundlePem, issued.certChain[0]!)).toContain(': OK');
  });

  it('issues for the caller when the CSR names no identity at all', () => {
    const { csrPem } = opensslCsr({});
    const issued = ca.signWorkloadCsr(csrPem, identity, 0);
    if (!issued.ok) throw new Error(issued.problem.reason);
    expect(new X509Certificate(issued.certChain[0]!).subjectAltName).toBe(`URI:${identity}`);
  });

  it('caps a lifetime longer than --max-cert-ttl at the maximum', () => {
    const capped = new CertificateAuthority(testCaMaterial(), { defaultTtlMs: 24 * hour, maxTtlMs: 48 * hour, clockSkewMs: 0 });
    const { csrPem } = opensslCsr({ key: 'p256' });
    const issued = capped.signWorkloadCsr(csrPem, identity, 365 * 24 * 3600);
    if (!issued.ok) throw new Error(issued.problem.reason);
    const cert = new X509Certificate(issued.certChain[0]!);
    const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    expect(lifetime).toBe(48 * hour);
  });

  it('caps the lifetime at the signing certificate expiry', () => {
    const shortCa = new CertificateAuthority(testCaMaterial(), {
      defaultTtlMs: 24 * hour,
      maxTtlMs: 100 * 365 * 24 * hour,
      clockSkewMs: 0,
    });
    const { csrPem } = opensslCsr({ key: 'p256' });
    const issued = shortCa.signWorkloadCsr(csrPem, identity, 50 * 365 * 24 * 3600);
    if (!issued.ok) throw new Error(issued.problem.reason);
    expect(new Date(new X509Certificate(issued.certChain[0]!).validTo).getTime()).toBeLessThanOrEqual(new Date(material.signingCertificate.validTo).getTime());
  });

  describe('refusals, as values with a kind and a reason', () => {
    const cases: Array<[string, () => { csr: string; ttl?: number }, string, RegExp]> = [
      ['garbage PEM', () => ({ csr: 'not a csr at all' }), 'malformed-csr', /PEM/],
      ['a certificate instead of a CSR', () => ({ csr: material.root.toString() }), 'malformed-csr', /CERTIFICATE REQUEST/],
      ['PEM with garbage DER', () => ({ csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }), 'malformed-csr', /DER/],
      ['a signature that does not match', () => ({ csr: tamperedSignature(opensslCsr({ sans: [`URI:${identity}`] }).csrPem) }), 'bad-signature', /signature/],
      [
        'another service account',
        () => ({ csr: opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/default/sa/ratings'] }).csrPem }),
        'identity-mismatch',
        /ratings/,
      ],
      [
        'another namespace',
        () => ({ csr: opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/prod/sa/reviews'] }).csrPem }),
        'identity-mismatch',
        /prod/,
      ],
      ['an extra DNS name', () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`, 'DNS:evil.example.com'] }).csrPem }), 'extra-san', /DNS:evil/],
      ['an extra IP address', () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`, 'IP:10.0.0.1'] }).csrPem }), 'extra-san', /IP:10.0.0.1/],
      ['a CA request', () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`], ca: true }).csrPem }), 'ca-request', /CA certificate/],
      ['a 1024-bit RSA key', () => ({ csr: opensslCsr({ key: 'rsa1024', sans: [`URI:${identity}`] }).csrPem }), 'weak-key', /1024 bits/],
      ['a P-521 key', () => ({ csr: opensslCsr({ key: 'p521', sans: [`URI:${identity}`] }).csrPem }), 'weak-key', /secp521r1/],
      ['a SHA-1 signature', () => ({ csr: opensslCsr({ sans: [`URI:${identity}`], digest: 'sha1' }).csrPem }), 'weak-key', /SHA-1/],
      ['a negative lifetime', () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, ttl: -60 }), 'bad-lifetime', /negative/],
      ['an absurd lifetime', () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, ttl: 2 ** 53 }), 'bad-lifetime', /absurd/],
    ];
    it.each(cases)('refuses %s', (_name, make, kind, reason) => {
      const { csr, ttl } = make();
      const result = ca.signWorkloadCsr(csr, identity, ttl ?? 0);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.problem.kind).toBe(kind);
      expect(result.problem.reason).toMatch(reason);
    });
  });
});
