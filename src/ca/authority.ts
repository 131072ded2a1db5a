// The certificate authority: decides what a caller may get and issues it.
// Workload certificates carry only the caller's SPIFFE ID; the serving
// certificate of the TLS and webhook ports carries DNS names (and IPs).
import { isIP } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { emptyName, issueCertificate, issueCertificateAsync, leafExtensions, type CertificateTemplate, type GeneralName } from './certificate.js';
import { parseCertificateRequest, type CertificateRequest } from './csr.js';
import type { CaMaterial } from './material.js';
import { encodePem } from './pem.js';
import type { SigningProblem } from './problems.js';

export interface AuthorityPolicy {
  /** Lifetime when the request asks for none (`--cert-ttl`, 24 h). */
  defaultTtlMs: number;
  /** Longest lifetime a request may ask for (`--max-cert-ttl`, 90 days). */
  maxTtlMs: number;
  /** How far notBefore is set back, for clocks running behind ours. */
  clockSkewMs: number;
}

export const defaultAuthorityPolicy: AuthorityPolicy = {
  defaultTtlMs: 24 * 3600 * 1000,
  maxTtlMs: 90 * 24 * 3600 * 1000,
  clockSkewMs: 2 * 60 * 1000,
};

export interface Issued {
  ok: true;
  certChain: string[];
  notAfter: Date;
  keyDescription: string;
}

export type IssueResult = Issued | { ok: false; problem: SigningProblem };

const problem = (kind: SigningProblem['kind'], reason: string): IssueResult => ({ ok: false, problem: { kind, reason } });

/** What the CSR asks for beyond `identity`, or undefined when it asks for nothing more. */
export function checkRequestedIdentity(csr: CertificateRequest, identity: string): SigningProblem | undefined {
  const foreign = csr.uris.filter((u) => u !== identity);
  if (foreign.length > 0) {
    return { kind: 'identity-mismatch', reason: `CSR asks for ${foreign.join(', ')} but the caller is ${identity}` };
  }
  const extras = [
    ...csr.dnsNames.map((n) => `DNS:${n}`),
    ...csr.ipAddresses.map((n) => `IP:${n}`),
    ...csr.emails.map((n) => `email:${n}`),
    ...(csr.otherNames > 0 ? [`${csr.otherNames} other name(s)`] : []),
  ];
  if (extras.length > 0) return { kind: 'extra-san', reason: `CSR asks for names beside the identity: ${extras.join(', ')}` };
  if (csr.requestsCa) return { kind: 'ca-request', reason: 'CSR asks for a CA certificate' };
  return undefined;
}

/** The lifetime to issue, in ms: the default for 0, else the request capped by --max-cert-ttl. */
export function resolveLifetimeMs(requestedSeconds: number, policy: AuthorityPolicy): number | SigningProblem {
  if (!Number.isFinite(requestedSeconds) || !Number.isInteger(requestedSeconds)) {
    return { kind: 'bad-lifetime', reason: `requested lifetime ${requestedSeconds}s is not a whole number of seconds` };
  }
  if (requestedSeconds < 0) return { kind: 'bad-lifetime', reason: `requested lifetime ${requestedSeconds}s is negative` };
  if (requestedSeconds === 0) return policy.defaultTtlMs;
  const ms = requestedSeconds * 1000;
  // Longer than the maximum is capped to it; a request beyond any sensible
  // certificate lifetime is a client bug and refused.
  if (ms > Math.max(10 * policy.maxTtlMs, absurdLifetimeMs)) {
    return {
      kind: 'bad-lifetime',
      reason: `requested lifetime ${requestedSeconds}s is absurd: it exceeds the maximum of ${policy.maxTtlMs / 1000}s (--max-cert-ttl) many times over`,
    };
  }
  return Math.min(ms, policy.maxTtlMs);
}

/** Ten years: no workload certificate request legitimately asks for more. */
const absurdLifetimeMs = 10 * 365 * 24 * 3600 * 1000;

export class CertificateAuthority {
  constructor(
    private materialValue: CaMaterial,
    readonly policy: AuthorityPolicy = defaultAuthorityPolicy,
  ) {}

  get material(): CaMaterial {
    return this.materialValue;
  }

  /** Swaps in new material (root rotation, a new `cacerts`); later issuance uses it. */
  replaceMaterial(material: CaMaterial): void {
    this.materialValue = material;
  }

  /**
   * Signs a workload CSR for an already authenticated `identity`
   * (spiffe://TRUST_DOMAIN/ns/NS/sa/SA) on this thread. Returns the chain
   * leaf first, root last.
   */
  signWorkloadCsr(csrPem: string, identity: string, requestedSeconds: number, now: Date = new Date()): IssueResult {
    const request = this.workloadTemplate(csrPem, identity, requestedSeconds, now);
    if (!request.ok) return request;
    const material = this.materialValue;
    try {
      return this.issued(issueCertificate(request.template, material.signer), material, request);
    } catch (e) {
      return problem('sign-failed', `signing failed: ${(e as Error).message}`);
    }
  }

  /** As signWorkloadCsr, with the signature computed off the event loop (what the gRPC service uses). */
  async signWorkloadCsrAsync(csrPem: string, identity: string, requestedSeconds: number, now: Date = new Date()): Promise<IssueResult> {
    const request = this.workloadTemplate(csrPem, identity, requestedSeconds, now);
    if (!request.ok) return request;
    const material = this.materialValue;
    try {
      return this.issued(await issueCertificateAsync(request.template, material.signer), material, request);
    } catch (e) {
      return problem('sign-failed', `signing failed: ${(e as Error).message}`);
    }
  }

  /** Checks a CSR against the caller and policy, and lays out the certificate to sign. */
  private workloadTemplate(
    csrPem: string,
    identity: string,
    requestedSeconds: number,
    now: Date,
  ): { ok: true; template: CertificateTemplate; keyDescription: string } | { ok: false; problem: SigningProblem } {
    const parsed = parseCertificateRequest(csrPem);
    if (!parsed.ok) return parsed;
    const refused = checkRequestedIdentity(parsed.csr, identity);
    if (refused) return { ok: false, problem: refused };
    const lifetime = resolveLifetimeMs(requestedSeconds, this.policy);
    if (typeof lifetime !== 'number') return { ok: false, problem: lifetime };
    return {
      ok: true,
      template: this.leafTemplate(parsed.csr.subjectPublicKeyInfo, [{ uri: identity }], lifetime, now),
      keyDescription: parsed.csr.keyDescription,
    };
  }

  /**
   * A key and certificate for this control plane's TLS port (DNS SANs such as
   * istiod.istio-system.svc). The key is ECDSA P-256: fast handshakes.
   */
  issueServingCertificate(dnsNames: string[], lifetimeMs: number, now: Date = new Date()): { certChainPem: string; keyPem: string; notAfter: Date } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    // An IP address (a webhook URL such as https://127.0.0.1:15017) needs an IP SAN, not a DNS one.
    const template = this.leafTemplate(
      spki,
      dnsNames.map((name) => (isIP(name) ? { ip: name } : { dns: name })),
      lifetimeMs,
      now,
    );
    const material = this.materialValue;
    const issued = this.issued(issueCertificate(template, material.signer), material, { template, keyDescription: 'ECDSA P-256' });
    return {
      // The serving chain stops before the root: peers already hold it.
      certChainPem: issued.certChain.slice(0, -1).join(''),
      keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      notAfter: issued.notAfter,
    };
  }

  private leafTemplate(subjectPublicKeyInfo: Buffer, names: GeneralName[], lifetimeMs: number, now: Date): CertificateTemplate {
    const material = this.materialValue;
    // A leaf never outlives its issuer: istiod caps the same way.
    const caNotAfter = new Date(material.signingCertificate.validTo).getTime();
    return {
      subjectName: emptyName,
      subjectPublicKeyInfo,
      notBefore: new Date(now.getTime() - this.policy.clockSkewMs),
      notAfter: new Date(Math.min(now.getTime() + lifetimeMs, caNotAfter)),
      extensions: leafExtensions({
        subjectAltNames: names,
        subjectPublicKeyInfo,
        authorityKeyIdentifier: material.signer.keyIdentifier,
        subjectIsEmpty: true,
      }),
    };
  }

  private issued(certDer: Buffer, material: CaMaterial, request: { template: CertificateTemplate; keyDescription: string }): Issued {
    return {
      ok: true,
      certChain: [encodePem('CERTIFICATE', certDer), ...material.chainAfterLeaf],
      notAfter: request.template.notAfter,
      keyDescription: request.keyDescription,
    };
  }
}
