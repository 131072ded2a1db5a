// The certificate the TLS port (15012) presents: issued by this CA for
// istiod.istio-system.svc plus configured DNS names, renewed before expiry
// without restarting the server. grpc-js (1.14) rotates server credentials
// through its experimental CertificateProvider interface: every update calls
// setSecureContext on the listening HTTP/2 server, so new handshakes use the
// new certificate while open connections continue.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CertificateAuthority } from './authority.js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

export const istiodServiceDnsName = 'istiod.istio-system.svc';

export interface ServingCertificateOptions {
  /** Extra DNS names beside istiod.istio-system.svc. */
  dnsNames?: string[] | undefined;
  /** Lifetime of each serving certificate (default: the authority's default, 24 h). */
  lifetimeMs?: number | undefined;
  /** Fraction of the lifetime after which it is renewed (default 0.5, like istio-agent). */
  renewAtFraction?: number | undefined;
  logger: Logger;
}

export interface ServingKeyPair {
  certChainPem: string;
  keyPem: string;
  notAfter: Date;
}

const retryAfterFailureMs = 60_000;
const minRenewalDelayMs = 500;
const maxTimerMs = 2 ** 31 - 1;

/**
 * Holds the current serving certificate and acts as the grpc-js certificate
 * provider for both the identity (our certificate) and the trusted CA (the
 * roots and intermediates, used to verify client certificates for renewal).
 */
export class ServingCertificate implements grpc.experimental.CertificateProvider {
  readonly dnsNames: string[];
  private currentPair: ServingKeyPair | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private credentialsValue: grpc.ServerCredentials | undefined;

  constructor(
    private readonly authority: CertificateAuthority,
    private readonly opts: ServingCertificateOptions,
  ) {
    this.dnsNames = [...new Set([istiodServiceDnsName, ...(opts.dnsNames ?? [])])];
  }

  /** Issues the first certificate and schedules renewals. */
  start(): this {
    this.renew();
    return this;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get current(): ServingKeyPair {
    if (!this.currentPair) throw new Error('ServingCertificate.start() has not been called');
    return this.currentPair;
  }

  /** PEM of the certificates clients should trust (the CA's root bundle). */
  get rootBundlePem(): string {
    return this.authority.material.rootBundlePem;
  }

  /**
   * TLS server credentials that follow renewals. Client certificates are
   * requested but not required: token callers need none, renewing workloads
   * present theirs.
   */
  credentials(): grpc.ServerCredentials {
    // The provider serves both roles, so grpc-js's argument order does not matter.
    this.credentialsValue ??= grpc.experimental.createCertificateProviderServerCredentials(this, this, false);
    return this.credentialsValue;
  }

  /** Issues a fresh certificate now (also after the CA material changed) and reschedules. */
  renew(): void {
    if (this.timer) clearTimeout(this.timer);
    const lifetimeMs = this.opts.lifetimeMs ?? this.authority.policy.defaultTtlMs;
    try {
      this.currentPair = this.authority.issueServingCertificate(this.dnsNames, lifetimeMs);
      this.opts.logger.info({ component: 'ca', dnsNames: this.dnsNames, notAfter: this.currentPair.notAfter.toISOString() }, 'serving certificate issued');
      this.publish();
      const remaining = this.currentPair.notAfter.getTime() - Date.now();
      const fraction = this.opts.renewAtFraction ?? 0.5;
      // Floor: a certificate capped by a CA about to expire must not spin the timer.
      this.schedule(Math.max(minRenewalDelayMs, Math.min(lifetimeMs, remaining) * fraction));
    } catch (e) {
      this.opts.logger.error({ component: 'ca', err: e }, 'serving certificate renewal failed; retrying');
      this.schedule(retryAfterFailureMs);
    }
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => this.renew(), Math.min(delayMs, maxTimerMs));
    this.timer.unref();
  }

  private caUpdate(): grpc.experimental.CaCertificateUpdate {
    const material = this.authority.material;
    const trusted = [...material.intermediates.map((c) => c.toString()), material.rootBundlePem].join('');
    return { caCertificate: Buffer.from(trusted) };
  }

  private identityUpdate(): grpc.experimental.IdentityCertificateUpdate | null {
    if (!this.currentPair) return null;
    return { certificate: Buffer.from(this.currentPair.certChainPem), privateKey: Buffer.from(this.currentPair.keyPem) };
  }

  private publish(): void {
    const ca = this.caUpdate();
    for (const listener of this.caListeners) listener(ca);
    const identity = this.identityUpdate();
    for (const listener of this.identityListeners) listener(identity);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Deferred: grpc-js registers its own watcher only after adding listeners.
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
