// CreateCertificate over real gRPC on loopback TLS: each caller
// authenticator, every bad input of issue 6 with its status and metric, and
// the serving certificate of the TLS port (including rotation).
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, caMaterialFromPem, createSelfSignedCaPem, type ReviewToken, type TokenReviewResult } from '../../src/ca/index.js';
import {
  createCertificate,
  metricValue,
  opensslCsr,
  opensslVerify,
  startCaServer,
  tamperedSignature,
  testCaMaterial,
  type CaServerHandle,
} from '../support/ca.js';

const issuer = 'https://meshd.test/issuer';
const jwtKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const identity = 'spiffe://cluster.local/ns/default/sa/reviews';

function serviceAccountToken(opts: { ns?: string; sa?: string; aud?: string; iss?: string; expiresIn?: string | number } = {}) {
  const ns = opts.ns ?? 'default';
  const sa = opts.sa ?? 'reviews';
  return new SignJWT({ 'kubernetes.io': { namespace: ns, serviceaccount: { name: sa } } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(opts.iss ?? issuer)
    .setAudience(opts.aud ?? 'istio-ca')
    .setSubject(`system:serviceaccount:${ns}:${sa}`)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(jwtKeys.privateKey);
}

function pollUntil<T>(probe: () => Promise<T | undefined>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  return (async () => {
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('condition not met before the deadline');
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
}

/** The certificate the TLS port presents to a fresh handshake. */
function presentedCertificate(address: string, rootPem: string): Promise<X509Certificate> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: Number(port),
      ca: rootPem,
      servername: 'istiod.istio-system.svc',
      ALPNProtocols: ['h2'],
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('secureConnect', () => {
      const cert = new X509Certificate(socket.getPeerCertificate().raw);
      socket.destroy();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

describe('CreateCertificate with offline JWT authentication (file mode)', () => {
  let ca: CaServerHandle;
  // pino writes synchronously to a plain object stream: each line is here when the call returns.
  const logLines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  beforeAll(async () => {
    ca = await startCaServer({ jwt: { key: jwtKeys.publicKey, issuer }, logger });
  });
  afterAll(() => ca.close());

  it('signs a CSR for the token identity; leaf first, root last; openssl verifies it', async () => {
    const { csrPem } = opensslCsr({ sans: [`URI:${identity}`] });
    const outcome = await createCertificate(ca.client(), { csr: csrPem }, await serviceAccountToken());
    if (!outcome.ok) throw outcome.error;
    const chain = outcome.response.certChain;
    expect(chain).toHaveLength(2);
    expect(chain[1]).toBe(ca.authority.material.root.toString());
    expect(new X509Certificate(chain[0]!).subjectAltName).toBe(`URI:${identity}`);
    expect(opensslVerify(ca.authority.material.rootBundlePem, chain[0]!)).toContain(': OK');
    expect(await metricValue(ca.registry, 'citadel_server_success_cert_issuance_count')).toBe(1);
    expect(await metricValue(ca.registry, 'citadel_server_csr_count')).toBe(1);
    // Prometheus text, as /metrics serves it: istiod's names, root expiry in unix seconds.
    const text = await ca.registry.metrics();
    expect(text).toMatch(/^citadel_server_success_cert_issuance_count 1$/m);
    const rootExpiry = Number(/^citadel_server_root_cert_expiry_timestamp (\S+)$/m.exec(text)?.[1]);
    expect(rootExpiry).toBe(new Date(ca.authority.material.root.validTo).getTime() / 1000);
  });

  it('presents a serving certificate for istiod.istio-system.svc and the configured names, issued by this CA', async () => {
    const cert = await presentedCertificate(ca.address, ca.authority.material.rootBundlePem);
    expect(cert.subjectAltName).toBe('DNS:istiod.istio-system.svc, DNS:meshd.test');
    expect(cert.verify(ca.authority.material.root.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
  });

  it('renews a workload certificate for a caller that presents one on mutual TLS, without a token', async () => {
    const { csrPem, keyPem } = opensslCsr({ key: 'p256', sans: [`URI:${identity}`] });
    const first = await createCertificate(ca.client(), { csr: csrPem }, await serviceAccountToken());
    if (!first.ok) throw first.error;
    const renewalKey = opensslCsr({ key: 'p256', sans: [`URI:${identity}`] });
    const client = ca.client({ keyPem, certChainPem: first.response.certChain.join('') });
    const renewed = await createCertificate(client, { csr: renewalKey.csrPem });
    if (!renewed.ok) throw renewed.error;
    expect(new X509Certificate(renewed.response.certChain[0]!).subjectAltName).toBe(`URI:${identity}`);
    // The renewing certificate only vouches for its own identity.
    const other = opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/default/sa/ratings'] });
    const refused = await createCertificate(client, { csr: other.csrPem });
    expect(refused.ok ? 'OK' : refused.error.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('does not accept a client certificate from a foreign root as identity', async () => {
    const foreign = new CertificateAuthority(caMaterialFromPem(createSelfSignedCaPem({ trustDomain: 'cluster.local' }), 'foreign'));
    const { csrPem, keyPem } = opensslCsr({ key: 'p256', sans: [`URI:${identity}`] });
    const foreignCert = foreign.signWorkloadCsr(csrPem, identity, 0);
    if (!foreignCert.ok) throw new Error(foreignCert.problem.reason);
    const client = ca.client({ keyPem, certChainPem: foreignCert.certChain[0]! });
    const outcome = await createCertificate(client, { csr: opensslCsr({ key: 'p256' }).csrPem });
    expect(outcome.ok ? 'OK' : outcome.error.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  const badInputs: Array<[string, () => Promise<{ csr: string; validityDuration?: number; token?: string }>, grpc.status, string, Record<string, string>?]> = [
    ['no token', async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem }), grpc.status.UNAUTHENTICATED, 'citadel_server_authentication_failure_count'],
    [
      'an expired token',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, token: await serviceAccountToken({ expiresIn: Math.floor(Date.now() / 1000) - 60 }) }),
      grpc.status.UNAUTHENTICATED,
      'citadel_server_authentication_failure_count',
    ],
    [
      'a token for a wrong audience',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, token: await serviceAccountToken({ aud: 'kubernetes.default.svc' }) }),
      grpc.status.UNAUTHENTICATED,
      'citadel_server_authentication_failure_count',
    ],
    [
      'a token from a wrong issuer',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, token: await serviceAccountToken({ iss: 'https://elsewhere' }) }),
      grpc.status.UNAUTHENTICATED,
      'citadel_server_authentication_failure_count',
    ],
    [
      'a token signed by another key',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, token: (await serviceAccountToken()).replace(/\.[^.]+$/, '.AAAA') }),
      grpc.status.UNAUTHENTICATED,
      'citadel_server_authentication_failure_count',
    ],
    ['garbage PEM', async () => ({ csr: 'garbage', token: await serviceAccountToken() }), grpc.status.INVALID_ARGUMENT, 'citadel_server_csr_parsing_err_count'],
    [
      'a CSR whose signature does not match',
      async () => ({ csr: tamperedSignature(opensslCsr({ sans: [`URI:${identity}`] }).csrPem), token: await serviceAccountToken() }),
      grpc.status.INVALID_ARGUMENT,
      'citadel_server_csr_parsing_err_count',
    ],
    [
      'a CSR for another service account',
      async () => ({ csr: opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/default/sa/ratings'] }).csrPem, token: await serviceAccountToken() }),
      grpc.status.PERMISSION_DENIED,
      'citadel_server_id_extraction_err_count',
    ],
    [
      'a CSR for another namespace',
      async () => ({
        csr: opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/kube-system/sa/reviews'] }).csrPem,
        token: await serviceAccountToken(),
      }),
      grpc.status.PERMISSION_DENIED,
      'citadel_server_id_extraction_err_count',
    ],
    [
      'extra DNS SANs',
      async () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`, 'DNS:api.example.com'] }).csrPem, token: await serviceAccountToken() }),
      grpc.status.PERMISSION_DENIED,
      'citadel_server_id_extraction_err_count',
    ],
    [
      'extra IP SANs',
      async () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`, 'IP:127.0.0.1'] }).csrPem, token: await serviceAccountToken() }),
      grpc.status.PERMISSION_DENIED,
      'citadel_server_id_extraction_err_count',
    ],
    [
      'a CA request',
      async () => ({ csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`], ca: true }).csrPem, token: await serviceAccountToken() }),
      grpc.status.PERMISSION_DENIED,
      'citadel_server_csr_sign_err_count',
      { error: 'CSR_ERROR' },
    ],
    [
      'a weak key',
      async () => ({ csr: opensslCsr({ key: 'rsa1024', sans: [`URI:${identity}`] }).csrPem, token: await serviceAccountToken() }),
      grpc.status.INVALID_ARGUMENT,
      'citadel_server_csr_sign_err_count',
      { error: 'CSR_ERROR' },
    ],
    [
      'a huge request',
      async () => ({ csr: `${opensslCsr({ key: 'p256' }).csrPem}${'x'.repeat(1024 * 1024)}`, token: await serviceAccountToken() }),
      grpc.status.INVALID_ARGUMENT,
      'citadel_server_csr_parsing_err_count',
    ],
    [
      'a negative lifetime',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, validityDuration: -3600, token: await serviceAccountToken() }),
      grpc.status.INVALID_ARGUMENT,
      'citadel_server_csr_sign_err_count',
      { error: 'TTL_ERROR' },
    ],
    [
      'an absurd lifetime',
      async () => ({ csr: opensslCsr({ key: 'p256' }).csrPem, validityDuration: 100 * 365 * 24 * 3600, token: await serviceAccountToken() }),
      grpc.status.INVALID_ARGUMENT,
      'citadel_server_csr_sign_err_count',
      { error: 'TTL_ERROR' },
    ],
  ];

  it.each(badInputs)('rejects %s with the right status, counted in the istiod metric', async (_name, make, code, metric, labels) => {
    const { token, ...request } = await make();
    const before = await metricValue(ca.registry, metric, labels);
    const issuedBefore = await metricValue(ca.registry, 'citadel_server_success_cert_issuance_count');
    const linesBefore = logLines.length;
    const outcome = await createCertificate(ca.client(), request, token);
    expect(outcome.ok ? 'OK' : grpc.status[outcome.error.code]).toBe(grpc.status[code]);
    if (!outcome.ok) expect(outcome.error.details.length).toBeGreaterThan(10); // a reason, not just a code
    // Logged once, at warn level, with the reason and the component.
    const logged = logLines.slice(linesBefore);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 40, component: 'ca' });
    expect(logged[0]!.reason).toEqual(expect.stringMatching(/.{10,}/));
    expect(await metricValue(ca.registry, metric, labels)).toBe(before + 1);
    expect(await metricValue(ca.registry, 'citadel_server_success_cert_issuance_count')).toBe(issuedBefore);
  });
});

describe('CreateCertificate with Kubernetes TokenReview (Kubernetes mode)', () => {
  const reviews: Array<{ token: string; audiences: string[] }> = [];
  const answers = new Map<string, TokenReviewResult>([
    ['good', { authenticated: true, username: 'system:serviceaccount:default:reviews', audiences: ['istio-ca'] }],
    ['revoked', { authenticated: false, error: 'token has been invalidated' }],
    ['other-audience', { authenticated: true, username: 'system:serviceaccount:default:reviews', audiences: ['api'] }],
    ['a-user', { authenticated: true, username: 'alice', audiences: ['istio-ca'] }],
  ]);
  const reviewToken: ReviewToken = async (token, audiences) => {
    reviews.push({ token, audiences });
    return answers.get(token) ?? { authenticated: false, error: 'unknown token' };
  };
  let ca: CaServerHandle;
  beforeAll(async () => {
    ca = await startCaServer({ reviewToken });
  });
  afterAll(() => ca.close());

  it('signs for the service account TokenReview names, asking for audience istio-ca', async () => {
    const outcome = await createCertificate(ca.client(), { csr: opensslCsr({ key: 'p256', sans: [`URI:${identity}`] }).csrPem }, 'good');
    if (!outcome.ok) throw outcome.error;
    expect(new X509Certificate(outcome.response.certChain[0]!).subjectAltName).toBe(`URI:${identity}`);
    expect(reviews.at(-1)).toEqual({ token: 'good', audiences: ['istio-ca'] });
  });

  it.each(['revoked', 'other-audience', 'a-user', 'never-seen'])('rejects a token TokenReview does not vouch for (%s)', async (token) => {
    const before = await metricValue(ca.registry, 'citadel_server_authentication_failure_count');
    const outcome = await createCertificate(ca.client(), { csr: opensslCsr({ key: 'p256' }).csrPem }, token);
    expect(outcome.ok ? 'OK' : outcome.error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await metricValue(ca.registry, 'citadel_server_authentication_failure_count')).toBe(before + 1);
  });

  it('rejects when TokenReview itself fails', async () => {
    const failing = await startCaServer({
      reviewToken: async () => {
        throw new Error('API server unavailable');
      },
    });
    try {
      const outcome = await createCertificate(failing.client(), { csr: opensslCsr({ key: 'p256' }).csrPem }, 'good');
      expect(outcome.ok ? 'OK' : outcome.error.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      await failing.close();
    }
  });
});

describe('serving certificate rotation', () => {
  it('renews before expiry and new handshakes get the new certificate without a restart', async () => {
    const ca = await startCaServer({ servingLifetimeMs: 2000, jwt: { key: jwtKeys.publicKey, issuer } });
    try {
      const rootPem = testCaMaterial().rootBundlePem;
      const first = await presentedCertificate(ca.address, rootPem);
      const next = await pollUntil(async () => {
        const cert = await presentedCertificate(ca.address, rootPem);
        return cert.serialNumber !== first.serialNumber ? cert : undefined;
      }, 10_000);
      expect(next.verify(ca.authority.material.root.publicKey)).toBe(true);
      expect(new Date(next.validTo).getTime()).toBeGreaterThan(new Date(first.validTo).getTime());
      const outcome = await createCertificate(ca.client(), { csr: opensslCsr({ key: 'p256' }).csrPem }, await serviceAccountToken());
      expect(outcome.ok).toBe(true);
    } finally {
      await ca.close();
    }
  });
});
