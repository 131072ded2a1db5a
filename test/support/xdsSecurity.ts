// Proxyless gRPC workloads with xDS credentials for the security end-to-end
// tests: certificates issued by meshd's CA (src/ca) written to files, read
// by the `file_watcher` certificate provider of each workload's bootstrap;
// xDS-enabled servers and clients whose TLS comes from meshd's configuration
// (plaintext when meshd sends none), and a plain client that dials a server
// directly without TLS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { XdsChannelCredentials, XdsServer, XdsServerCredentials } from '@grpc/grpc-js-xds';
import { CertificateAuthority } from '../../src/ca/index.js';
import { bootstrapChannelOption, type GrpcBootstrap } from '../../src/demo/bootstrap.js';
import { echoMethods, methodDefinition, type EchoMethod, type EchoOutcome, type EchoReply, type EchoRequest } from '../../src/demo/echo.js';
import { fileWatcherCertificateProviders, type FileWatcherPaths } from '../../src/security/index.js';
import { opensslCsr, testCaMaterial } from './ca.js';

export interface WorkloadCertificates extends FileWatcherPaths {
  readonly spiffeId: string;
}

/** Issues a workload certificate for NS/SA with meshd's CA and writes it, its key and the root as files. */
export function issueWorkloadFiles(namespace: string, serviceAccount: string, dir: string): WorkloadCertificates {
  const ca = new CertificateAuthority(testCaMaterial());
  const spiffeId = `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;
  const { csrPem, keyPem } = opensslCsr({ key: 'p256', sans: [`URI:${spiffeId}`] });
  const issued = ca.signWorkloadCsr(csrPem, spiffeId, 0);
  if (!issued.ok) throw new Error(`CA refused ${spiffeId}: ${issued.problem.reason}`);
  const base = path.join(dir, `${namespace}-${serviceAccount}`);
  const files = { certificateFile: `${base}-cert.pem`, privateKeyFile: `${base}-key.pem`, caCertificateFile: `${base}-root.pem` };
  // The chain without the root, as the agent writes it; the root separately.
  writeFileSync(files.certificateFile, issued.certChain.slice(0, -1).join(''));
  writeFileSync(files.privateKeyFile, keyPem);
  writeFileSync(files.caCertificateFile, testCaMaterial().rootBundlePem);
  return { ...files, spiffeId };
}

export function certificateDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshd-sec-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bootstrap with a `default` file_watcher certificate provider over the workload's files. */
export function withCertificates(bootstrap: GrpcBootstrap, files: FileWatcherPaths): GrpcBootstrap & { certificate_providers: Record<string, unknown> } {
  return { ...bootstrap, certificate_providers: fileWatcherCertificateProviders({ ...files, refreshIntervalSeconds: 1 }) };
}

export interface SecureEchoServer {
  readonly address: string;
  close(): Promise<void>;
}

/** An xDS-enabled echo server with xDS credentials (plaintext fallback); resolves once meshd's listener arrived and it serves. */
export function startSecureEchoServer(address: string, pod: string, bootstrap: GrpcBootstrap, timeoutMs = 20_000): Promise<SecureEchoServer> {
  // A changed listener applies to new connections; old ones drain (10 minutes by default): keep tests quick.
  const server = new XdsServer({ ...bootstrapChannelOption(bootstrap), drainGraceTimeMs: 100 });
  const handler: grpc.handleUnaryCall<EchoRequest, EchoReply> = (call, callback) => callback(null, { pod, version: 'v1', method: call.getPath() });
  server.addService(
    Object.fromEntries(Object.entries(echoMethods).map(([name, p]) => [name, methodDefinition(p)])),
    Object.fromEntries(Object.keys(echoMethods).map((name) => [name, handler])),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      reject(new Error(`secure echo server ${pod} did not serve on ${address} within ${timeoutMs} ms`));
    }, timeoutMs);
    server.bindAsync(address, new XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (error) => {
      clearTimeout(timer);
      if (error) return reject(new Error(`secure echo server ${pod} cannot serve on ${address}: ${error.message}`));
      resolve({ address, close: () => new Promise<void>((done) => server.tryShutdown(() => done())) });
    });
  });
}

export interface EchoCaller {
  call(method: EchoMethod, deadlineMs?: number): Promise<EchoOutcome>;
  close(): void;
}

function caller(client: grpc.Client): EchoCaller {
  return {
    call: (method, deadlineMs = 5_000) =>
      new Promise((resolve) => {
        const d = methodDefinition(echoMethods[method]);
        client.makeUnaryRequest(
          d.path,
          d.requestSerialize,
          d.responseDeserialize,
          {},
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error, reply) => resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, reply: reply! }),
        );
      }),
    close: () => client.close(),
  };
}

/** A proxyless client using xDS credentials: mTLS when meshd's cluster says so, plaintext otherwise. */
export function xdsCredentialsClient(target: string, bootstrap: GrpcBootstrap): EchoCaller {
  return caller(new grpc.Client(target, new XdsChannelCredentials(grpc.credentials.createInsecure()), bootstrapChannelOption(bootstrap)));
}

/** A plaintext client dialling the server address directly, outside the mesh. */
export function plaintextClient(address: string): EchoCaller {
  return caller(new grpc.Client(address, grpc.credentials.createInsecure()));
}
