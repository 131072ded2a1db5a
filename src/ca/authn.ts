// Caller authentication for CreateCertificate, tried in istiod's order:
// Kubernetes TokenReview, offline JWT, then a workload certificate this CA
// issued (renewal over mutual TLS). The first that succeeds names the caller.
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseServiceAccountUsername, parseSpiffeId, spiffeId } from './identity.js';
import { jwtKeysFromJwks, jwtKeysFromKey, verifyJwt, type JwtKeys } from './jwt.js';
import type { CaMaterial } from './material.js';

/** Audience of the workload tokens istio-agent sends to the CA. */
export const caTokenAudience = 'istio-ca';

export interface TokenReviewResult {
  authenticated: boolean;
  /** `system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT` */
  username?: string | undefined;
  audiences?: string[] | undefined;
  /** Reason given by the API server, when not authenticated. */
  error?: string | undefined;
}

/** Supplied by the Kubernetes helper: one TokenReview call. */
export type ReviewToken = (token: string, audiences: string[]) => Promise<TokenReviewResult>;

export interface CallerCredentials {
  bearerToken?: string | undefined;
  /** DER of the client certificate, only when the TLS layer verified it against our root. */
  peerCertificate?: Buffer | undefined;
}

export interface Caller {
  identity: string;
  namespace: string;
  serviceAccount: string;
  authenticator: string;
}

export type AuthnOutcome = Caller | { failure: string } | undefined;

export interface Authenticator {
  name: string;
  /** A Caller, a failure reason, or undefined when the credentials are not of this kind. */
  authenticate(credentials: CallerCredentials): Promise<AuthnOutcome>;
}

export type AuthenticationResult = { ok: true; caller: Caller } | { ok: false; reason: string };

/** Runs the authenticators in order; the first success wins, otherwise every reason is reported. */
export async function authenticateCaller(credentials: CallerCredentials, authenticators: readonly Authenticator[]): Promise<AuthenticationResult> {
  const reasons: string[] = [];
  for (const authenticator of authenticators) {
    let outcome: AuthnOutcome;
    try {
      outcome = await authenticator.authenticate(credentials);
    } catch (e) {
      outcome = { failure: `error: ${(e as Error).message}` };
    }
    if (outcome === undefined) continue;
    if ('failure' in outcome) reasons.push(`${authenticator.name}: ${outcome.failure}`);
    else return { ok: true, caller: outcome };
  }
  if (reasons.length === 0) {
    const offered = credentials.bearerToken !== undefined || credentials.peerCertificate !== undefined;
    return {
      ok: false,
      reason: offered ? 'no configured authenticator accepts the offered credentials' : 'no bearer token and no client certificate',
    };
  }
  return { ok: false, reason: reasons.join('; ') };
}

function caller(trustDomain: string, namespace: string, serviceAccount: string, authenticator: string): Caller {
  return { identity: spiffeId({ trustDomain, namespace, serviceAccount }), namespace, serviceAccount, authenticator };
}

/** (a) Kubernetes service-account token, checked by TokenReview with audience istio-ca. */
export function kubeTokenAuthenticator(reviewToken: ReviewToken, trustDomain: string): Authenticator {
  return {
    name: 'kubernetes-token',
    async authenticate({ bearerToken }) {
      if (bearerToken === undefined) return undefined;
      const review = await reviewToken(bearerToken, [caTokenAudience]);
      if (!review.authenticated) return { failure: `TokenReview rejected the token${review.error ? `: ${review.error}` : ''}` };
      if (!review.audiences?.includes(caTokenAudience)) {
        return { failure: `token audiences [${(review.audiences ?? []).join(', ')}] do not include ${caTokenAudience}` };
      }
      const sa = review.username ? parseServiceAccountUsername(review.username) : undefined;
      if (!sa) return { failure: `TokenReview user ${review.username ?? '(none)'} is not a service account` };
      return caller(trustDomain, sa.namespace, sa.serviceAccount, 'kubernetes-token');
    },
  };
}

export interface JwtAuthenticatorOptions {
  /** Verification keys (see loadJwtVerificationKey), or one public key. */
  key: KeyObject | JwtKeys;
  issuer: string;
  trustDomain: string;
}

/** Reads `--jwt-public-key`: a PEM public key or a JSON Web Key Set. */
export async function loadJwtVerificationKey(file: string): Promise<JwtKeys> {
  const text = await readFile(file, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return jwtKeysFromJwks(JSON.parse(trimmed));
    } catch (e) {
      throw new Error(`--jwt-public-key ${file}: not a valid JWKS document: ${(e as Error).message}`, { cause: e });
    }
  }
  try {
    return jwtKeysFromKey(createPublicKey(text));
  } catch (e) {
    throw new Error(`--jwt-public-key ${file}: not a PEM public key: ${(e as Error).message}`, { cause: e });
  }
}

function serviceAccountFromClaims(claims: Record<string, unknown>): { namespace: string; serviceAccount: string } | undefined {
  // Projected service-account tokens carry kubernetes.io.{namespace, serviceaccount.name}; `sub` repeats it.
  const kube = claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
  if (kube && typeof kube.namespace === 'string' && typeof kube.serviceaccount?.name === 'string') {
    return parseServiceAccountUsername(`system:serviceaccount:${kube.namespace}:${kube.serviceaccount.name}`);
  }
  return typeof claims.sub === 'string' ? parseServiceAccountUsername(claims.sub) : undefined;
}

/** (b) A JWT verified offline against `--jwt-public-key`, `--jwt-issuer` and audience istio-ca. */
export function jwtAuthenticator(opts: JwtAuthenticatorOptions): Authenticator {
  const keys = 'keys' in opts.key ? opts.key : jwtKeysFromKey(opts.key);
  return {
    name: 'jwt',
    async authenticate({ bearerToken }) {
      if (bearerToken === undefined) return undefined;
      const verified = verifyJwt(bearerToken, keys, { issuer: opts.issuer, audience: caTokenAudience });
      if (!verified.ok) return { failure: `JWT rejected: ${verified.reason}` };
      const sa = serviceAccountFromClaims(verified.claims);
      if (!sa) return { failure: 'JWT names no service account (kubernetes.io claim or system:serviceaccount sub)' };
      return caller(opts.trustDomain, sa.namespace, sa.serviceAccount, 'jwt');
    },
  };
}

/** (c) A workload certificate this CA issued, still valid, presented on the mutual-TLS connection. */
export function clientCertificateAuthenticator(material: () => CaMaterial, trustDomain: string): Authenticator {
  return {
    name: 'client-certificate',
    async authenticate({ peerCertificate }) {
      if (peerCertificate === undefined) return undefined;
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(peerCertificate);
      } catch (e) {
        return { failure: `client certificate cannot be parsed: ${(e as Error).message}` };
      }
      const signing = material().signingCertificate;
      if (!cert.checkIssued(signing) || !cert.verify(signing.publicKey)) {
        return { failure: 'client certificate was not issued by this CA' };
      }
      if (cert.ca) return { failure: 'client certificate is a CA certificate' };
      const now = Date.now();
      if (new Date(cert.validFrom).getTime() > now || new Date(cert.validTo).getTime() <= now) {
        return { failure: 'client certificate is outside its validity period' };
      }
      const names = (cert.subjectAltName ?? '').split(', ').filter((n) => n !== '');
      const uris = names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4));
      const id = uris.length === 1 && uris.length === names.length ? parseSpiffeId(uris[0]!) : undefined;
      if (!id || id.trustDomain !== trustDomain) {
        return { failure: `client certificate does not carry exactly one SPIFFE ID of trust domain ${trustDomain}` };
      }
      return caller(trustDomain, id.namespace, id.serviceAccount, 'client-certificate');
    },
  };
}
