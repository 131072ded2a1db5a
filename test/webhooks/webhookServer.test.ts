// The admission webhook port: HTTPS with a serving certificate from meshd's CA,
// /validate answering with the model's own validators, and requests that are
// malformed, oversized or slow refused with a clear error.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, ServingCertificate, caMaterialFromPem, createSelfSignedCaPem } from '../../src/ca/index.js';
import { serve } from '../../src/serve/index.js';
import { WebhookServer } from '../../src/webhooks/webhookServer.js';
import { kindValidators } from '../../src/security/validation.js';
import type { AdmissionRequest, AdmissionResponse } from '../../src/webhooks/admissionReview.js';
import { validateAdmission as validateWith } from '../../src/webhooks/validation.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';
import { admissionReview, postWebhook, type ReviewAnswer } from '../support/webhookClient.js';

/** /validate as serve wires it: with the table the model is built with. */
const validateAdmission = (request: AdmissionRequest): AdmissionResponse => validateWith(request, kindValidators);

const namespaceWidePortLevel = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } },
};
const paRequest = (object: unknown) => ({
  kind: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' },
  namespace: 'shop',
  name: 'default',
  object,
});

describe('meshd serve: the webhook port', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  let root: string;
  const { logger, logs } = captureLogs('info');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-webhook-'));
    await writeFile(path.join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n');
    server = await serve({ ...loopbackConfig, configDir: dir, caDir: path.join(dir, 'ca'), dnsNames: ['127.0.0.1'], webhookPort: 0 }, { logger });
    root = await readFile(path.join(dir, 'ca', 'root-cert.pem'), 'utf8');
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs the bound webhook port with the others', () => {
    expect(server.ports.webhook).toBeGreaterThan(0);
    const listening = logs.lines.find((l) => l.msg === 'listening');
    expect(listening).toMatchObject({ webhook: server.ports.webhook, xds: server.ports.xds });
  });

  it('presents a certificate from meshd CA for istiod.istio-system.svc', async () => {
    const review = admissionReview(paRequest({ ...namespaceWidePortLevel, spec: { mtls: { mode: 'STRICT' } } }));
    const answer = await postWebhook(server.ports.webhook!, '/validate', review, { ca: root, servername: 'istiod.istio-system.svc' });
    expect(answer.status).toBe(200);
    expect((answer.json as ReviewAnswer).response).toMatchObject({ uid: 'uid-1', allowed: true });
    // A certificate from another CA is not trusted: the handshake fails.
    const other = caMaterialFromPem(createSelfSignedCaPem({ trustDomain: 'other.local' }), 'other').rootBundlePem;
    await expect(postWebhook(server.ports.webhook!, '/validate', review, { ca: other })).rejects.toThrow();
  });

  it('refuses the namespace-wide PeerAuthentication with portLevelMtls in istiod words', async () => {
    const answer = await postWebhook(server.ports.webhook!, '/validate', admissionReview(paRequest(namespaceWidePortLevel)), { ca: root });
    const review = answer.json as ReviewAnswer;
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(review.response.allowed).toBe(false);
    expect(review.response.status).toMatchObject({
      code: 400,
      message: 'configuration is invalid: spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS',
    });
  });

  it('answers v1beta1 reviews in v1beta1', async () => {
    const answer = await postWebhook(server.ports.webhook!, '/validate', admissionReview(paRequest(namespaceWidePortLevel), 'admission.k8s.io/v1beta1'), {
      ca: root,
    });
    expect((answer.json as ReviewAnswer).apiVersion).toBe('admission.k8s.io/v1beta1');
  });

  it('injects pods on /inject and counts both webhooks in istiod metrics', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web:1' }] } };
    const answer = await postWebhook(
      server.ports.webhook!,
      '/inject',
      admissionReview({ kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', object: pod }),
      { ca: root },
    );
    const response = (answer.json as ReviewAnswer).response;
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    expect(Buffer.from(response.patch!, 'base64').toString()).toContain('"name":"istio-proxy"');
    const metrics = await (await fetch(`http://127.0.0.1:${server.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/^sidecar_injection_requests_total 1$/m);
    expect(metrics).toMatch(/^sidecar_injection_success_total 1$/m);
    expect(metrics).toMatch(/^galley_validation_passed\{group="security.istio.io",version="v1",resource="peerauthentication"\} 1$/m);
    expect(metrics).toMatch(/^galley_validation_failed\{group="security.istio.io",version="v1",resource="peerauthentication",reason="invalid_config"\} 2$/m);
  });

  it("takes the cluster and network from istiod's /inject/cluster/CLUSTER/net/NETWORK path", async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'east-web', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web:1' }] } };
    const review = admissionReview({ kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', object: pod });
    const answer = await postWebhook(server.ports.webhook!, '/inject/cluster/east/net/network1', review, { ca: root });
    const ops = JSON.parse(Buffer.from((answer.json as ReviewAnswer).response.patch!, 'base64').toString()) as Array<{
      path: string;
      value: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> };
    }>;
    const proxy = ops.find((o) => o.path === '/spec')!.value.containers.find((c) => c.name === 'istio-proxy')!;
    const env = Object.fromEntries(proxy.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ ISTIO_META_CLUSTER_ID: 'east', ISTIO_META_NETWORK: 'network1' });
  });

  it('refuses malformed reviews, unknown paths and wrong methods with a clear error', async () => {
    const call = (p: string, body: string) => postWebhook(server.ports.webhook!, p, body, { ca: root });
    expect(await call('/validate', '{not json')).toMatchObject({ status: 400, text: expect.stringContaining('body is not JSON') });
    expect(await call('/validate', '{"kind":"Pod"}')).toMatchObject({ status: 400, text: expect.stringContaining('not an AdmissionReview: kind "Pod"') });
    expect(await call('/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }))).toMatchObject({
      status: 400,
      text: expect.stringContaining('request: missing'),
    });
    expect(await call('/nowhere', admissionReview(paRequest(namespaceWidePortLevel)))).toMatchObject({
      status: 404,
      text: expect.stringContaining('/validate'),
    });
  });
});

describe('/validate uses the model validators', () => {
  it('names every problem, as istiod lists several errors', () => {
    const response = validateAdmission({
      uid: 'u',
      operation: 'CREATE',
      kind: { group: 'security.istio.io', version: 'v1beta1', kind: 'PeerAuthentication' },
      object: {
        ...namespaceWidePortLevel,
        spec: { ...namespaceWidePortLevel.spec, portLevelMtls: { '9090': { mode: 'DISABLE' }, '70000': { mode: 'STRICT' } } },
      },
    });
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toBe(
      'configuration is invalid: 2 errors occurred:\n\t* spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS\n\t* spec.portLevelMtls.70000: port must be between 1 and 65535\n\n',
    );
  });

  it('agrees with the model on every Istio kind: what the model rejects is denied, what it accepts is allowed', () => {
    const cases: Array<{ group: string; version: string; kind: keyof typeof kindValidators; spec: unknown }> = [
      { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService', spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] } },
      {
        group: 'networking.istio.io',
        version: 'v1',
        kind: 'VirtualService',
        spec: { hosts: ['web'], http: [{ match: [{ uri: { regex: '(' } }], route: [{ destination: { host: 'web' } }] }] },
      },
      {
        group: 'networking.istio.io',
        version: 'v1beta1',
        kind: 'DestinationRule',
        spec: { host: 'web', trafficPolicy: { connectionPool: { tcp: { maxConnections: -1 } } } },
      },
      { group: 'networking.istio.io', version: 'v1alpha3', kind: 'DestinationRule', spec: { host: 'web' } },
      { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy', spec: { action: 'CUSTOM', provider: { name: 'x' } } },
      {
        group: 'security.istio.io',
        version: 'v1',
        kind: 'AuthorizationPolicy',
        spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] },
      },
    ];
    for (const c of cases) {
      const object = { apiVersion: `${c.group}/${c.version}`, kind: c.kind, metadata: { name: 'x', namespace: 'shop' }, spec: c.spec };
      const modelProblems = kindValidators[c.kind](object);
      const response = validateAdmission({ uid: 'u', operation: 'CREATE', kind: { group: c.group, version: c.version, kind: c.kind }, object });
      expect(response.allowed, `${c.kind} ${JSON.stringify(c.spec)}`).toBe(modelProblems.length === 0);
      for (const problem of modelProblems) expect(response.status?.message).toContain(problem);
    }
  });

  it('warns about a valid but risky object and still admits it', () => {
    const response = validateAdmission({
      uid: 'u',
      operation: 'CREATE',
      kind: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy' },
      object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'lockdown', namespace: 'shop' }, spec: {} },
    });
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toMatch(/ALLOW policy with no rules/);
  });

  it('denies kinds it does not know, admits Istio kinds it does not read with a warning, and admits deletions', () => {
    const unknown = validateAdmission({
      uid: 'u',
      operation: 'CREATE',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      object: { metadata: { name: 't' } },
    });
    expect(unknown).toMatchObject({
      allowed: false,
      status: { message: expect.stringMatching(/^unrecognized type Deployment \(apps\/v1\): meshd validates only VirtualService, /) },
    });
    const workloadEntry = validateAdmission({
      uid: 'u',
      operation: 'CREATE',
      kind: { group: 'networking.istio.io', version: 'v1', kind: 'WorkloadEntry' },
      object: { metadata: { name: 't' } },
    });
    expect(workloadEntry).toEqual({
      uid: 'u',
      allowed: true,
      warnings: ['meshd does not read WorkloadEntry (networking.istio.io/v1); it is stored without validation'],
    });
    // Telemetry is read, so validated: an access-log filter that is not CEL is refused at admission.
    const telemetry = validateAdmission({
      uid: 'u',
      operation: 'CREATE',
      kind: { group: 'telemetry.istio.io', version: 'v1', kind: 'Telemetry' },
      object: {
        apiVersion: 'telemetry.istio.io/v1',
        kind: 'Telemetry',
        metadata: { name: 't', namespace: 'shop' },
        spec: { accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code !=' } }] },
      },
    });
    expect(telemetry).toMatchObject({
      allowed: false,
      status: { message: expect.stringContaining('spec.accessLogging[0].filter.expression: must be a valid CEL expression') },
    });
    expect(validateAdmission({ uid: 'u', operation: 'DELETE', kind: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' } }).allowed).toBe(
      true,
    );
  });
});

describe('WebhookServer limits', () => {
  let server: WebhookServer;
  let port: number;
  let root: string;
  let serving: ServingCertificate;
  beforeAll(async () => {
    const material = caMaterialFromPem(createSelfSignedCaPem({ trustDomain: 'cluster.local' }), 'test CA');
    root = material.rootBundlePem;
    const authority = new CertificateAuthority(material, { defaultTtlMs: 3_600_000, maxTtlMs: 86_400_000, clockSkewMs: 0 });
    const { logger } = captureLogs('error');
    serving = new ServingCertificate(authority, { logger, dnsNames: ['127.0.0.1'] }).start();
    server = new WebhookServer({ serving, logger, handlers: { '/validate': validateAdmission }, maxBodyBytes: 64 * 1024, requestTimeoutMs: 1_000 });
    port = await server.listen('127.0.0.1', 0);
  });
  afterAll(async () => {
    serving.stop();
    await server.close();
  });

  it('refuses a body over the cap with 413, declared or streamed', async () => {
    const huge = admissionReview(
      paRequest({ ...namespaceWidePortLevel, metadata: { ...namespaceWidePortLevel.metadata, annotations: { big: 'x'.repeat(100 * 1024) } } }),
    );
    const answer = await postWebhook(port, '/validate', huge, { ca: root });
    expect(answer.status).toBe(413);
    expect(answer.text).toContain('exceeds the 65536-byte limit');
  });

  it('cuts off a client that never finishes its request', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: root });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    socket.write('POST /validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"kind"');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    // The server answers 408 and closes; the bounded wait is the test's own limit.
    await new Promise<void>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error('the server kept a stalled request open')), 20_000);
      socket.once('close', () => {
        clearTimeout(limit);
        resolve();
      });
    });
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('still answers after those', async () => {
    const answer = await postWebhook(port, '/validate', admissionReview(paRequest(namespaceWidePortLevel)), { ca: root });
    expect((answer.json as ReviewAnswer).response.allowed).toBe(false);
  });

  it('presents the renewed serving certificate to new connections without a restart', async () => {
    const fingerprint = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca: root }, () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        });
        socket.once('error', reject);
      });
    const before = await fingerprint();
    serving.renew();
    expect(await fingerprint()).not.toBe(before);
  });

  it('rejects with the bind error when its port is taken (meshd names the flag: test/cli/startupErrors.test.ts)', async () => {
    const { logger } = captureLogs('error');
    const second = new WebhookServer({ serving, logger, handlers: {} });
    await expect(second.listen('127.0.0.1', port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await second.close();
  });

  it('does not accept a plaintext connection as a request', async () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.write('POST /validate HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('close', () => resolve()).once('error', () => resolve()));
    expect(socket.destroyed).toBe(true);
  });
});
