// istio.v1.auth.IstioCertificateService/CreateCertificate on a grpc-js server:
// authenticate the caller, check the CSR against the caller's identity, sign.
// Every refusal gets an explicit status, a log line with the reason, and a
// count in istiod's metrics.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KeyObject } from 'node:crypto';
import type { JwtKeys } from './jwt.js';
import type { CertificateAuthority } from './authority.js';
import { authenticateCaller, clientCertificateAuthenticator, jwtAuthenticator, kubeTokenAuthenticator, type Authenticator, type ReviewToken } from './authn.js';
import { caMetrics, type CaMetrics } from './metrics.js';
import type { SigningProblem, SigningProblemKind } from './problems.js';
import { certificateServiceDefinition, type CertificateResponseMessage, type IncomingCertificateRequest } from './protocol.js';

export interface CertificateServiceDeps {
  authority: CertificateAuthority;
  trustDomain: string;
  logger: Logger;
  registry: Registry;
  /** Kubernetes mode: TokenReview through the API server (supplied by the Kubernetes helper). */
  reviewToken?: ReviewToken | undefined;
  /** File mode: `--jwt-public-key` (see loadJwtVerificationKey) and `--jwt-issuer`. */
  jwt?: { key: KeyObject | JwtKeys; issuer: string } | undefined;
  /** Requests larger than this are refused before parsing (default 64 KiB; a CSR is ~1 KiB). */
  maxRequestBytes?: number | undefined;
}

export const defaultMaxRequestBytes = 64 * 1024;

/** How each refusal is reported: gRPC status and the istiod counter it increments. */
const problemReporting: Record<SigningProblemKind, { code: grpc.status; count: (m: CaMetrics) => void }> = {
  'too-large': { code: grpc.status.INVALID_ARGUMENT, count: (m) => m.csrParsingErrors.inc() },
  'malformed-csr': { code: grpc.status.INVALID_ARGUMENT, count: (m) => m.csrParsingErrors.inc() },
  'bad-signature': { code: grpc.status.INVALID_ARGUMENT, count: (m) => m.csrParsingErrors.inc() },
  'weak-key': { code: grpc.status.INVALID_ARGUMENT, count: (m) => m.csrSignErrors.inc({ error: 'CSR_ERROR' }) },
  'identity-mismatch': { code: grpc.status.PERMISSION_DENIED, count: (m) => m.idExtractionErrors.inc() },
  'extra-san': { code: grpc.status.PERMISSION_DENIED, count: (m) => m.idExtractionErrors.inc() },
  'ca-request': { code: grpc.status.PERMISSION_DENIED, count: (m) => m.csrSignErrors.inc({ error: 'CSR_ERROR' }) },
  'bad-lifetime': { code: grpc.status.INVALID_ARGUMENT, count: (m) => m.csrSignErrors.inc({ error: 'TTL_ERROR' }) },
  'sign-failed': { code: grpc.status.INTERNAL, count: (m) => m.csrSignErrors.inc({ error: 'CERT_GEN_ERROR' }) },
};

/** The caller authenticators in istiod's order, as configured. */
export function configuredAuthenticators(deps: CertificateServiceDeps): Authenticator[] {
  const list: Authenticator[] = [];
  if (deps.reviewToken) list.push(kubeTokenAuthenticator(deps.reviewToken, deps.trustDomain));
  if (deps.jwt) list.push(jwtAuthenticator({ ...deps.jwt, trustDomain: deps.trustDomain }));
  list.push(clientCertificateAuthenticator(() => deps.authority.material, deps.trustDomain));
  return list;
}

function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m ? m[1] : undefined;
}

/** Publishes the root and signing-certificate expiry gauges for the current material. */
export function recordCaExpiry(metrics: CaMetrics, authority: CertificateAuthority): void {
  const { root, signingCertificate } = authority.material;
  metrics.rootCertExpiryTimestamp.set(new Date(root.validTo).getTime() / 1000);
  metrics.certChainExpiryTimestamp.set(new Date(signingCertificate.validTo).getTime() / 1000);
}

/** Registers CreateCertificate on `server` (the TLS port). Returns the metrics it updates. */
export function addCertificateService(server: grpc.Server, deps: CertificateServiceDeps): CaMetrics {
  const metrics = caMetrics(deps.registry);
  recordCaExpiry(metrics, deps.authority);
  const authenticators = configuredAuthenticators(deps);
  const log = deps.logger.child({ component: 'ca' });
  const maxRequestBytes = deps.maxRequestBytes ?? defaultMaxRequestBytes;

  const refuse = (callback: grpc.sendUnaryData<CertificateResponseMessage>, peer: string, who: string | undefined, problem: SigningProblem): void => {
    const reporting = problemReporting[problem.kind];
    reporting.count(metrics);
    log.warn({ peer, identity: who, problem: problem.kind, reason: problem.reason }, 'certificate request refused');
    callback({ code: reporting.code, details: problem.reason });
  };

  const createCertificate = async (
    call: grpc.ServerUnaryCall<IncomingCertificateRequest, CertificateResponseMessage>,
    callback: grpc.sendUnaryData<CertificateResponseMessage>,
  ): Promise<void> => {
    metrics.csrCount.inc();
    const peer = call.getPeer();
    const authn = await authenticateCaller(
      { bearerToken: bearerToken(call.metadata), peerCertificate: call.getAuthContext().sslPeerCertificate?.raw },
      authenticators,
    );
    if (!authn.ok) {
      metrics.authenticationFailures.inc();
      log.warn({ peer, reason: authn.reason }, 'certificate request unauthenticated');
      callback({ code: grpc.status.UNAUTHENTICATED, details: `request authenticate failure: ${authn.reason}` });
      return;
    }
    const { caller } = authn;
    const incoming = call.request;
    if (incoming.kind === 'too-large') {
      refuse(callback, peer, caller.identity, {
        kind: 'too-large',
        reason: `request of ${incoming.bytes} bytes exceeds the ${maxRequestBytes}-byte limit`,
      });
      return;
    }
    if (incoming.kind === 'malformed') {
      refuse(callback, peer, caller.identity, { kind: 'malformed-csr', reason: incoming.reason });
      return;
    }
    const { csr, validityDuration } = incoming.request;
    const issued = await deps.authority.signWorkloadCsrAsync(csr, caller.identity, validityDuration);
    if (!issued.ok) {
      refuse(callback, peer, caller.identity, issued.problem);
      return;
    }
    metrics.successfulIssuances.inc();
    log.debug(
      { peer, identity: caller.identity, authenticator: caller.authenticator, key: issued.keyDescription, notAfter: issued.notAfter },
      'certificate issued',
    );
    callback(null, { certChain: issued.certChain });
  };

  server.addService(certificateServiceDefinition(maxRequestBytes), {
    CreateCertificate: (
      call: grpc.ServerUnaryCall<IncomingCertificateRequest, CertificateResponseMessage>,
      callback: grpc.sendUnaryData<CertificateResponseMessage>,
    ) => {
      createCertificate(call, callback).catch((e: unknown) => {
        log.error({ err: e }, 'CreateCertificate failed unexpectedly');
        callback({ code: grpc.status.INTERNAL, details: 'internal error' });
      });
    },
  });
  return metrics;
}
