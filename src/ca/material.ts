// CA material: the signing key and certificate, the intermediates up to the
// root, and the root. Loaded from PEM (files or Secret data), validated before
// use so a bad CA refuses to start with a message that names the file and the
// reason, or created self-signed the way istiod's self-signed CA is.
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import {
  certificateFields,
  issueCertificate,
  keyIdentifierFor,
  organizationName,
  rootCaExtensions,
  signatureAlgorithmFor,
  type CertificateSigner,
} from './certificate.js';
import { decodePemBlocks, encodePem } from './pem.js';

/** File and Secret key names, as istiod uses them for `cacerts` and `istio-ca-secret`. */
export const CaFile = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  certChain: 'cert-chain.pem',
  rootCert: 'root-cert.pem',
} as const;

export interface CaPem {
  caCert: string;
  caKey: string;
  certChain?: string | undefined;
  rootCert?: string | undefined;
}

export interface CaMaterial {
  signingCertificate: X509Certificate;
  signingKey: KeyObject;
  /** Certificates between a leaf and the root: the signing certificate first, unless it is the root. */
  intermediates: X509Certificate[];
  /** The root the signing certificate chains to. */
  root: X509Certificate;
  /** The full trusted root bundle (PEM), as published in `istio-ca-root-cert` and `root-cert.pem`. */
  rootBundlePem: string;
  /** PEM certificates appended after a leaf in CreateCertificate responses: intermediates, then the root. */
  chainAfterLeaf: string[];
  signer: CertificateSigner;
  /** Where the material came from, for messages ("--ca-dir /x", "Secret cacerts"). */
  source: string;
}

export class CaMaterialError extends Error {
  override name = 'CaMaterialError';
}

const maxChainDepth = 8;

function certificatesIn(pem: string | undefined, file: string, source: string): X509Certificate[] {
  if (!pem || pem.trim() === '') return [];
  let blocks;
  try {
    blocks = decodePemBlocks(pem);
  } catch (e) {
    throw new CaMaterialError(`${source}: ${file} is not valid PEM: ${(e as Error).message}`);
  }
  const certs = blocks.filter((b) => b.type === 'CERTIFICATE');
  if (certs.length === 0) throw new CaMaterialError(`${source}: ${file} holds no PEM CERTIFICATE block`);
  return certs.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch (e) {
      throw new CaMaterialError(`${source}: certificate #${i + 1} in ${file} cannot be parsed: ${(e as Error).message}`);
    }
  });
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function checkValidNow(cert: X509Certificate, what: string, source: string, now: Date): void {
  if (new Date(cert.validFrom) > now) throw new CaMaterialError(`${source}: ${what} is not valid before ${cert.validFrom}`);
  if (new Date(cert.validTo) <= now) throw new CaMaterialError(`${source}: ${what} expired on ${cert.validTo}`);
}

/**
 * Validates and assembles CA material: the key matches the signing certificate,
 * the signing certificate is a CA, and it chains (through cert-chain.pem) to a
 * root in root-cert.pem. Throws CaMaterialError naming the file and the reason.
 */
export function caMaterialFromPem(pem: CaPem, source: string, now: Date = new Date()): CaMaterial {
  const [signingCertificate] = certificatesIn(pem.caCert, CaFile.caCert, source);
  if (!signingCertificate) throw new CaMaterialError(`${source}: ${CaFile.caCert} is missing or empty`);
  if (!pem.caKey || pem.caKey.trim() === '') throw new CaMaterialError(`${source}: ${CaFile.caKey} is missing or empty`);
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(pem.caKey);
  } catch (e) {
    throw new CaMaterialError(`${source}: ${CaFile.caKey} is not a readable private key: ${(e as Error).message}`);
  }
  if (!signingCertificate.checkPrivateKey(signingKey)) {
    throw new CaMaterialError(`${source}: ${CaFile.caKey} does not match the public key of ${CaFile.caCert}`);
  }
  if (!signingCertificate.ca) {
    throw new CaMaterialError(`${source}: ${CaFile.caCert} is not a CA certificate (basicConstraints CA:FALSE)`);
  }
  checkValidNow(signingCertificate, CaFile.caCert, source, now);
  const algorithm = signatureAlgorithmFor(signingKey);
  if (algorithm instanceof Error) throw new CaMaterialError(`${source}: ${CaFile.caKey}: ${algorithm.message}`);

  let roots = certificatesIn(pem.rootCert, CaFile.rootCert, source);
  if (roots.length === 0) {
    if (!isSelfSigned(signingCertificate)) {
      throw new CaMaterialError(`${source}: ${CaFile.rootCert} is missing and ${CaFile.caCert} is not self-signed`);
    }
    roots = [signingCertificate];
  }
  const chain = certificatesIn(pem.certChain, CaFile.certChain, source);
  const isRoot = (c: X509Certificate): boolean => roots.some((r) => r.fingerprint256 === c.fingerprint256);

  // Walk from the signing certificate up through cert-chain.pem to a root.
  const intermediates: X509Certificate[] = [];
  let current = signingCertificate;
  let root: X509Certificate | undefined = isRoot(current) ? current : undefined;
  while (!root) {
    intermediates.push(current);
    if (intermediates.length > maxChainDepth) {
      throw new CaMaterialError(`${source}: certificate chain is longer than ${maxChainDepth}`);
    }
    const child = current;
    root = roots.find((r) => issuedBy(child, r));
    if (root) break;
    const parent = chain.find((c) => c.fingerprint256 !== child.fingerprint256 && !isRoot(c) && issuedBy(child, c));
    if (!parent) {
      throw new CaMaterialError(
        `${source}: ${CaFile.caCert} does not chain to any certificate in ${CaFile.rootCert}` +
          ` (no issuer found for ${child.subject.replace(/\n/g, ', ') || 'an empty subject'} in ${CaFile.certChain})`,
      );
    }
    if (!parent.ca) throw new CaMaterialError(`${source}: ${CaFile.certChain} holds a non-CA certificate in the chain`);
    checkValidNow(parent, `an intermediate in ${CaFile.certChain}`, source, now);
    current = parent;
  }
  checkValidNow(root, CaFile.rootCert, source, now);

  const fields = certificateFields(signingCertificate.raw);
  const signer: CertificateSigner = {
    key: signingKey,
    subjectName: fields.subjectName,
    keyIdentifier: fields.subjectKeyIdentifier ?? keyIdentifierFor(fields.subjectPublicKeyInfo),
    algorithm,
  };
  const rootPems = roots.map((r) => r.toString());
  return {
    signingCertificate,
    signingKey,
    intermediates,
    root,
    rootBundlePem: rootPems.join(''),
    chainAfterLeaf: [...intermediates.map((c) => c.toString()), root.toString()],
    signer,
    source,
  };
}

/** istiod's self-signed root lifetime (10 years) and key (RSA 2048). */
export const selfSignedRootTtlMs = 3650 * 24 * 3600 * 1000;

export interface SelfSignedCaOptions {
  trustDomain: string;
  ttlMs?: number;
  now?: Date;
}

/** A new self-signed root CA: RSA 2048, subject O=<trust domain>, like istiod's self-signed CA. */
export function createSelfSignedCaPem(opts: SelfSignedCaOptions): { caCert: string; caKey: string } {
  const now = opts.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const subjectName = organizationName(opts.trustDomain);
  const algorithm = signatureAlgorithmFor(privateKey);
  if (algorithm instanceof Error) throw algorithm; // RSA is always supported: a bug if reached
  const certDer = issueCertificate(
    {
      subjectName,
      subjectPublicKeyInfo: spki,
      notBefore: new Date(now.getTime() - 2 * 60 * 1000),
      notAfter: new Date(now.getTime() + (opts.ttlMs ?? selfSignedRootTtlMs)),
      extensions: rootCaExtensions(spki),
    },
    { key: privateKey, subjectName, keyIdentifier: keyIdentifierFor(spki), algorithm },
  );
  return {
    caCert: encodePem('CERTIFICATE', certDer),
    caKey: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(), // "RSA PRIVATE KEY", as istiod writes it
  };
}
