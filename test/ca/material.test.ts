// CA material: file mode (--ca-dir), Kubernetes Secret data, and the checks
// that make a bad CA refuse to start with a message naming file and reason.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CaMaterialError,
  CertificateAuthority,
  caFromSecretData,
  caFromSecrets,
  caMaterialFromPem,
  createSelfSignedCaPem,
  loadOrCreateCaDirectory,
  newSelfSignedCaSecretData,
  rootCertConfigMapData,
} from '../../src/ca/index.js';
import { opensslCsr, opensslPluggedCa, opensslText, opensslVerify, testCaMaterial } from '../support/ca.js';

const identity = 'spiffe://cluster.local/ns/default/sa/reviews';
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshd-cadir-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('file mode (--ca-dir)', () => {
  it('creates a self-signed root in an empty directory, key mode 0600, root-cert.pem written, and reloads it', async () => {
    const dir = path.join(tempDir(), 'ca');
    const created = await loadOrCreateCaDirectory(dir, { trustDomain: 'cluster.local' });
    expect(created.created).toBe(true);
    expect(statSync(path.join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const rootFile = readFileSync(path.join(dir, 'root-cert.pem'), 'utf8');
    const root = new X509Certificate(rootFile);
    expect(root.ca).toBe(true);
    expect(root.subject).toBe('O=cluster.local');
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const years = (new Date(root.validTo).getTime() - Date.now()) / (365 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(9.9);
    expect(opensslText(rootFile)).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(readFileSync(path.join(dir, 'ca-key.pem'), 'utf8')).toContain('BEGIN RSA PRIVATE KEY');

    const reloaded = await loadOrCreateCaDirectory(dir, { trustDomain: 'cluster.local' });
    expect(reloaded.created).toBe(false);
    expect(reloaded.material.root.fingerprint256).toBe(root.fingerprint256);
  });

  it('refuses a directory holding a certificate without its key', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'ca-cert.pem'), testCaMaterial().root.toString());
    await expect(loadOrCreateCaDirectory(dir, { trustDomain: 'cluster.local' })).rejects.toThrow(/ca-key.pem is missing/);
  });

  it('refuses a key that does not match the certificate', async () => {
    const dir = tempDir();
    const a = createSelfSignedCaPem({ trustDomain: 'cluster.local' });
    const b = createSelfSignedCaPem({ trustDomain: 'cluster.local' });
    writeFileSync(path.join(dir, 'ca-cert.pem'), a.caCert);
    writeFileSync(path.join(dir, 'ca-key.pem'), b.caKey);
    await expect(loadOrCreateCaDirectory(dir, { trustDomain: 'cluster.local' })).rejects.toThrow(
      /--ca-dir .*: ca-key.pem does not match the public key of ca-cert.pem/,
    );
  });

  it('refuses garbage in ca-cert.pem', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'ca-cert.pem'), 'hello');
    writeFileSync(path.join(dir, 'ca-key.pem'), 'world');
    await expect(loadOrCreateCaDirectory(dir, { trustDomain: 'cluster.local' })).rejects.toThrow(/ca-cert.pem holds no PEM CERTIFICATE block/);
  });
});

describe('validation on load', () => {
  it('refuses a signing certificate that is not a CA', () => {
    const { csrPem, keyPem } = opensslCsr({ key: 'p256', sans: [`URI:${identity}`] });
    const leaf = new CertificateAuthority(testCaMaterial()).signWorkloadCsr(csrPem, identity, 0);
    if (!leaf.ok) throw new Error(leaf.problem.reason);
    const load = () => caMaterialFromPem({ caCert: leaf.certChain[0]!, caKey: keyPem, rootCert: testCaMaterial().rootBundlePem }, 'Secret cacerts');
    expect(load).toThrow(CaMaterialError);
    expect(load).toThrow(/Secret cacerts: ca-cert.pem is not a CA certificate/);
  });

  it('refuses a chain that does not verify to root-cert.pem', () => {
    const plugged = opensslPluggedCa();
    const otherRoot = testCaMaterial().rootBundlePem;
    expect(() => caMaterialFromPem({ ...plugged, rootCert: otherRoot }, 'Secret cacerts')).toThrow(
      /ca-cert.pem does not chain to any certificate in root-cert.pem/,
    );
  });

  it('refuses an intermediate without root-cert.pem', () => {
    const { caCert, caKey } = opensslPluggedCa();
    expect(() => caMaterialFromPem({ caCert, caKey }, 'Secret cacerts')).toThrow(/root-cert.pem is missing/);
  });

  it('refuses an expired CA', () => {
    const old = createSelfSignedCaPem({ trustDomain: 'cluster.local', now: new Date(Date.now() - 10 * 24 * 3600 * 1000), ttlMs: 3600 * 1000 });
    expect(() => caMaterialFromPem(old, '--ca-dir /x')).toThrow(/--ca-dir \/x: ca-cert.pem expired/);
  });
});

describe('Kubernetes Secret data', () => {
  it('creates istio-ca-secret data with the keys istiod uses, and loads it back', () => {
    const data = newSelfSignedCaSecretData({ trustDomain: 'cluster.local' });
    expect(Object.keys(data).sort()).toEqual(['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'key.pem', 'root-cert.pem']);
    expect(data['root-cert.pem']).toBe(data['ca-cert.pem']);
    const material = caFromSecretData(data);
    expect(material.source).toBe('Secret istio-ca-secret');
    expect(material.intermediates).toHaveLength(0);
    expect(rootCertConfigMapData(material)).toEqual({ 'root-cert.pem': material.root.toString() });
  });

  it('prefers a plugged-in cacerts over istio-ca-secret and issues chains leaf, intermediate, root', () => {
    const plugged = opensslPluggedCa();
    const cacerts = {
      'ca-cert.pem': b64(plugged.caCert),
      'ca-key.pem': b64(plugged.caKey),
      'cert-chain.pem': b64(plugged.certChain),
      'root-cert.pem': b64(plugged.rootCert),
    };
    const material = caFromSecrets({ cacerts, istioCaSecret: newSelfSignedCaSecretData({ trustDomain: 'cluster.local' }) });
    expect(material?.source).toBe('Secret cacerts');
    expect(material!.root.fingerprint256).toBe(new X509Certificate(plugged.rootCert).fingerprint256);

    const { csrPem } = opensslCsr({ sans: [`URI:${identity}`] });
    const issued = new CertificateAuthority(material!).signWorkloadCsr(csrPem, identity, 0);
    if (!issued.ok) throw new Error(issued.problem.reason);
    expect(issued.certChain).toHaveLength(3);
    const [leaf, intermediate, root] = issued.certChain.map((p) => new X509Certificate(p));
    expect(intermediate!.fingerprint256).toBe(new X509Certificate(plugged.caCert).fingerprint256);
    expect(root!.fingerprint256).toBe(new X509Certificate(plugged.rootCert).fingerprint256);
    expect(leaf!.verify(intermediate!.publicKey)).toBe(true);
    expect(opensslText(issued.certChain[0]!)).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(opensslVerify(plugged.rootCert, issued.certChain[0]!, issued.certChain[1])).toContain(': OK');
  });

  it('returns nothing when neither Secret exists, so the Lease holder creates istio-ca-secret', () => {
    expect(caFromSecrets({})).toBeUndefined();
  });

  it('names the Secret and key when its data is bad', () => {
    expect(() => caFromSecretData({ 'ca-cert.pem': b64('x'), 'ca-key.pem': b64('y') }, 'cacerts')).toThrow(
      /Secret cacerts: ca-cert.pem holds no PEM CERTIFICATE block/,
    );
  });
});
