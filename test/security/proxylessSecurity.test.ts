// End to end with real peers: meshd (file source) serves proxyless gRPC
// workloads, xDS-enabled @grpc/grpc-js-xds servers and clients whose
// certificates meshd's CA issued and whose bootstraps read them through the
// file_watcher certificate provider. PeerAuthentication, DestinationRule and
// AuthorizationPolicy are written to the config directory while traffic
// runs, and behaviour follows without restarts.
import { vi } from 'vitest';

// grpc-js-xds registers its RBAC HTTP filter only with this switch, read at load.
vi.hoisted(() => {
  process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceObject, serviceObject, workloadObjects, xdsTarget, type EchoServiceSpec } from '../../src/demo/mesh.js';
import type { KubeObject } from '../../src/model/kube.js';
import { freePort, startGrpcMesh, type GrpcMesh } from '../support/grpcXdsMesh.js';
import { eventually } from '../support/grpcXdsWorkloads.js';
import { waitFor } from '../support/captureLogger.js';
import {
  certificateDir,
  issueWorkloadFiles,
  plaintextClient,
  startSecureEchoServer,
  withCertificates,
  xdsCredentialsClient,
  type EchoCaller,
  type SecureEchoServer,
} from '../support/xdsSecurity.js';

const echo: EchoServiceSpec = { namespace: 'default', service: 'echo', servicePort: 7070 };
const security = (kind: string, name: string, spec: unknown, namespace = 'default'): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind,
  metadata: { name, namespace },
  spec,
});
const strict = security('PeerAuthentication', 'default', { mtls: { mode: 'STRICT' } }, 'istio-system');
const permissive = security('PeerAuthentication', 'default', { mtls: { mode: 'PERMISSIVE' } }, 'istio-system');
const istioMutual: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'echo-mtls', namespace: 'default' },
  spec: { host: 'echo', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
};

describe('proxyless gRPC security end to end', () => {
  let mesh: GrpcMesh;
  let server: SecureEchoServer;
  let port: number;
  let alice: EchoCaller;
  let bob: EchoCaller;
  let plain: EchoCaller;
  const certs = certificateDir();

  const ok = (outcome: Awaited<ReturnType<EchoCaller['call']>>): boolean => outcome.ok;
  const code = (outcome: Awaited<ReturnType<EchoCaller['call']>>): string => (outcome.ok ? 'OK' : String(outcome.code));
  const PERMISSION_DENIED = '7';

  beforeAll(async () => {
    port = await freePort();
    const workload = { pod: 'echo-v1', version: 'v1', port };
    mesh = await startGrpcMesh({ 'mesh.yaml': [namespaceObject('default'), serviceObject(echo), ...workloadObjects(echo, workload)], 'peer.yaml': [strict] });
    const serverBootstrap = mesh.bootstrap({
      pod: 'echo-v1',
      namespace: 'default',
      ip: '127.0.0.1',
      labels: { app: 'echo', version: 'v1' },
      serviceAccount: 'echo',
    });
    server = await startSecureEchoServer(`127.0.0.1:${port}`, 'echo-v1', withCertificates(serverBootstrap, issueWorkloadFiles('default', 'echo', certs.dir)));
    const client = (sa: string): EchoCaller =>
      xdsCredentialsClient(
        xdsTarget(echo),
        withCertificates(
          mesh.bootstrap({ pod: sa, namespace: 'default', ip: '127.0.0.2', labels: { app: sa }, serviceAccount: sa }),
          issueWorkloadFiles('default', sa, certs.dir),
        ),
      );
    alice = client('alice');
    bob = client('bob');
    plain = plaintextClient(`127.0.0.1:${port}`);
  }, 60_000);

  afterAll(async () => {
    for (const c of [alice, bob, plain]) c?.close();
    await server?.close();
    await mesh?.close();
    certs.remove();
  });

  it('STRICT rejects a plaintext client and accepts an mTLS one', async () => {
    await mesh.write('tls.yaml', [istioMutual]);
    await eventually(() => alice.call('echo'), ok, 'the mTLS client to be served under STRICT');
    const refused = await plain.call('echo');
    expect(refused.ok).toBe(false);
    expect(code(refused)).toBe('14');
  });

  it('PERMISSIVE accepts plaintext clients (a gRPC server cannot also terminate mTLS on that port)', async () => {
    await mesh.write('peer.yaml', [permissive]);
    await mesh.write('tls.yaml', []);
    await eventually(() => plain.call('echo'), ok, 'the plaintext client to be served under PERMISSIVE');
    await eventually(() => alice.call('echo'), ok, 'the proxyless client (plaintext without ISTIO_MUTUAL) to be served under PERMISSIVE');
    await mesh.write('peer.yaml', [strict]);
    await mesh.write('tls.yaml', [istioMutual]);
    await eventually(
      () => plain.call('echo'),
      (o) => !o.ok,
      'STRICT to refuse the plaintext client again',
    );
    await eventually(() => alice.call('echo'), ok, 'the mTLS client to be served again');
  });

  it('an AuthorizationPolicy allowing one service account lets it through and denies another identity', async () => {
    await mesh.write('authz.yaml', [
      security('AuthorizationPolicy', 'alice-only', {
        selector: { matchLabels: { app: 'echo' } },
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/alice'] } }] }],
      }),
    ]);
    await eventually(
      () => bob.call('echo'),
      (o) => code(o) === PERMISSION_DENIED,
      'bob to be denied',
    );
    expect(await alice.call('echo')).toMatchObject({ ok: true, reply: { pod: 'echo-v1' } });
  });

  it('an invalid update is rejected with its name and reason and never widens access', async () => {
    await mesh.write('authz.yaml', [
      security('AuthorizationPolicy', 'alice-only', { selector: { matchLabels: { app: 'echo' } }, rules: [{ from: [{ source: { principals: ['alice'] } }] }] }),
    ]);
    await waitFor(
      () =>
        mesh.logs.lines.some(
          (l) => String(l.msg).includes('rejected invalid AuthorizationPolicy default/alice-only') && String(l.msg).includes('not a SPIFFE path'),
        ),
      'the rejection',
      10_000,
    );
    expect(code(await bob.call('echo'))).toBe(PERMISSION_DENIED);
    expect(ok(await alice.call('echo'))).toBe(true);
  });

  it('a path rule allows one method and denies the others', async () => {
    await mesh.write('authz.yaml', [
      security('AuthorizationPolicy', 'echo-method', { rules: [{ to: [{ operation: { paths: ['/meshd.demo.Echo/Echo'] } }] }] }),
    ]);
    await eventually(
      () => alice.call('ping'),
      (o) => code(o) === PERMISSION_DENIED,
      'Ping to be denied',
    );
    expect(ok(await alice.call('echo'))).toBe(true);
    expect(ok(await bob.call('echo'))).toBe(true);
  });

  it('DENY wins over ALLOW', async () => {
    await mesh.write('authz.yaml', [
      security('AuthorizationPolicy', 'allow-all', { rules: [{}] }),
      security('AuthorizationPolicy', 'deny-bob', { action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/bob'] } }] }] }),
    ]);
    await eventually(
      () => bob.call('echo'),
      (o) => code(o) === PERMISSION_DENIED,
      'bob to be denied by DENY',
    );
    expect(ok(await alice.call('echo'))).toBe(true);
  });

  it('removing the policies at run time restores access without restarts', async () => {
    await mesh.write('authz.yaml', []);
    await eventually(() => bob.call('echo'), ok, 'bob to be allowed again');
    await eventually(() => alice.call('ping'), ok, 'Ping to be allowed again');
  });
});
