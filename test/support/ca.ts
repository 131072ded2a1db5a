// Helpers for CA tests: CSRs made by the openssl CLI (an implementation we did
// not write), a CA gRPC server on loopback TLS, and a client for it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import {
  addCertificateService,
  CertificateAuthority,
  CertificateServiceClient,
  caMaterialFromPem,
  createSelfSignedCaPem,
  ServingCertificate,
  type CaMaterial,
  type CertificateServiceDeps,
} from '../../src/ca/index.js';
import type { CertificateResponseMessage } from '../../src/ca/protocol.js';

export type CsrKey = 'rsa2048' | 'rsa1024' | 'rsa3072' | 'p256' | 'p384' | 'p521';

const keyArgs: Record<CsrKey, string[]> = {
  rsa1024: ['-newkey', 'rsa:1024'],
  rsa2048: ['-newkey', 'rsa:2048'],
  rsa3072: ['-newkey', 'rsa:3072'],
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
};

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshd-ca-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CSR and its private key from `openssl req`. `sans` uses openssl syntax: URI:..., DNS:..., IP:... */
export function opensslCsr(opts: { key?: CsrKey; sans?: string[]; ca?: boolean; digest?: string } = {}): {
  csrPem: string;
  keyPem: string;
} {
  return withTempDir((dir) => {
    const args = ['req', '-new', ...keyArgs[opts.key ?? 'rsa2048'], '-nodes', '-keyout', path.join(dir, 'key.pem')];
    args.push('-out', path.join(dir, 'req.csr'), '-subj', '/O=cluster.local', `-${opts.digest ?? 'sha256'}`);
    if (opts.sans && opts.sans.length > 0) args.push('-addext', `subjectAltName=${opts.sans.join(',')}`);
    if (opts.ca) args.push('-addext', 'basicConstraints=critical,CA:TRUE');
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return {
      csrPem: readFileSync(path.join(dir, 'req.csr'), 'utf8'),
      keyPem: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
    };
  });
}

/** The same CSR with one byte of its signature flipped. */
export function tamperedSignature(csrPem: string): string {
  const body = csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  der[der.length - 1] = der[der.length - 1]! ^ 0xff;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** Runs `openssl verify` of `leafPem` against `rootPem` (with intermediates); returns its output or throws. */
export function opensslVerify(rootPem: string, leafPem: string, intermediatesPem = ''): string {
  return withTempDir((dir) => {
    writeFileSync(path.join(dir, 'root.pem'), rootPem);
    writeFileSync(path.join(dir, 'leaf.pem'), leafPem);
    const args = ['verify', '-CAfile', path.join(dir, 'root.pem')];
    if (intermediatesPem) {
      writeFileSync(path.join(dir, 'chain.pem'), intermediatesPem);
      args.push('-untrusted', path.join(dir, 'chain.pem'));
    }
    args.push('-purpose', 'sslclient', path.join(dir, 'leaf.pem'));
    return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  });
}

export function opensslText(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: certPem }).toString();
}

let cachedMaterial: CaMaterial | undefined;
/** One self-signed CA per test file (RSA key generation is slow). */
export function testCaMaterial(): CaMaterial {
  cachedMaterial ??= caMaterialFromPem(createSelfSignedCaPem({ trustDomain: 'cluster.local' }), 'test CA');
  return cachedMaterial;
}

export const silentLogger = pino({ level: 'silent' });

export interface CaServerHandle {
  address: string;
  authority: CertificateAuthority;
  serving: ServingCertificate;
  registry: Registry;
  server: grpc.Server;
  client(identity?: { keyPem: string; certChainPem: string }): CertificateServiceClient;
  close(): Promise<void>;
}

/** A CA service on 127.0.0.1 (any free port) behind TLS that requests client certificates. */
export async function startCaServer(overrides: Partial<CertificateServiceDeps> & { servingLifetimeMs?: number } = {}): Promise<CaServerHandle> {
  const authority = overrides.authority ?? new CertificateAuthority(testCaMaterial());
  const registry = overrides.registry ?? new Registry();
  const serving = new ServingCertificate(authority, {
    logger: silentLogger,
    dnsNames: ['meshd.test'],
    lifetimeMs: overrides.servingLifetimeMs,
  }).start();
  const server = new grpc.Server();
  addCertificateService(server, {
    trustDomain: 'cluster.local',
    logger: silentLogger,
    ...overrides,
    authority,
    registry,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serving.credentials(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;
  const clients: grpc.Client[] = [];
  return {
    address,
    authority,
    serving,
    registry,
    server,
    client(identity) {
      const creds = grpc.credentials.createSsl(
        Buffer.from(authority.material.rootBundlePem),
        identity ? Buffer.from(identity.keyPem) : null,
        identity ? Buffer.from(identity.certChainPem) : null,
      );
      const client = new CertificateServiceClient(address, creds, {
        'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
        'grpc.default_authority': 'istiod.istio-system.svc',
      });
      clients.push(client);
      return client;
    },
    async close() {
      serving.stop();
      for (const c of clients) c.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

export type CallOutcome = { ok: true; response: CertificateResponseMessage } | { ok: false; error: grpc.ServiceError };

/** One CreateCertificate call with an optional bearer token, bounded by a deadline. */
export function createCertificate(client: CertificateServiceClient, request: { csr: string; validityDuration?: number }, token?: string): Promise<CallOutcome> {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.CreateCertificate(
      { csr: request.csr, validityDuration: request.validityDuration ?? 0 },
      metadata,
      { deadline: Date.now() + 10_000 },
      (err, response) => resolve(err ? { ok: false, error: err } : { ok: true, response: response! }),
    );
  });
}

/** Current value of a counter (optionally one label set) in the registry. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const match = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

/**
 * A plugged-in CA made entirely by openssl: an RSA root and an ECDSA P-256
 * intermediate it signed, laid out as the `cacerts` files.
 */
export function opensslPluggedCa(): { caCert: string; caKey: string; certChain: string; rootCert: string } {
  return withTempDir((dir) => {
    const f = (n: string): string => path.join(dir, n);
    const run = (args: string[]): void => {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f('root.key'),
      '-out',
      f('root.pem'),
      '-subj',
      '/O=Plugged Root',
      '-days',
      '365',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    run([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.csr'),
      '-subj',
      '/O=Plugged Intermediate',
    ]);
    writeFileSync(
      f('ext.cnf'),
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    run([
      'x509',
      '-req',
      '-in',
      f('ca.csr'),
      '-CA',
      f('root.pem'),
      '-CAkey',
      f('root.key'),
      '-set_serial',
      '0x5eed',
      '-days',
      '30',
      '-sha256',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('ca.pem'),
    ]);
    const caCert = readFileSync(f('ca.pem'), 'utf8');
    const rootCert = readFileSync(f('root.pem'), 'utf8');
    return { caCert, caKey: readFileSync(f('ca.key'), 'utf8'), certChain: caCert + rootCert, rootCert };
  });
}

/** A self-signed ECDSA P-256 serving certificate for `hostname` (as cert-manager would put in a kubernetes.io/tls Secret), made by openssl. */
export function opensslServingCertificate(hostname: string): { cert: string; key: string } {
  return withTempDir((dir) => {
    const f = (n: string): string => path.join(dir, n);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        f('tls.key'),
        '-out',
        f('tls.crt'),
        '-subj',
        `/CN=${hostname}`,
        '-days',
        '90',
        '-addext',
        `subjectAltName=DNS:${hostname}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { cert: readFileSync(f('tls.crt'), 'utf8'), key: readFileSync(f('tls.key'), 'utf8') };
  });
}

/** A kubernetes.io/tls Secret holding `pair`, as YAML for a config directory. */
export function tlsSecretYaml(name: string, namespace: string, pair: { cert: string; key: string }): string {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: kubernetes.io/tls
data: {tls.crt: ${b64(pair.cert)}, tls.key: ${b64(pair.key)}}
`;
}
