// The real `meshd serve --kubeconfig` process against a real kube-apiserver
// (etcd on loopback): it syncs, wins the istio-leader Lease, stores the CA in
// istio-ca-secret, publishes the root certificate in every namespace (and in
// one created later), restores that ConfigMap when it is deleted or edited,
// analyzes what a watch event adds, and writes a rejected update's IST0106
// into the object's status without anything else happening.
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateServiceClient } from '../../src/ca/index.js';
import { createCertificate, opensslCsr } from '../support/ca.js';
import { eventually } from '../support/fakeKubeApiHelpers.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';

describe.skipIf(!realApiServerAvailable)('meshd serve --kubeconfig against a real API server', () => {
  let api: RealKubeApi;
  let meshd: MeshdProcess;

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installIstioCrds();
    for (const name of ['istio-system', 'shop']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'cart', namespace: 'shop' },
      spec: { selector: { app: 'cart' }, ports: [{ name: 'http', port: 8080 }] },
    });
    meshd = await spawnMeshd(['--kubeconfig', api.kubeconfigPath], 40_000);
  }, 120_000);

  afterAll(async () => {
    meshd?.child.kill('SIGKILL');
    await api?.close();
  });

  it('becomes ready as the leader, with the CA secret and the root certificate published', async () => {
    await eventually(async () => (await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`)).status === 200, '/ready 200', 30_000);
    const lease = await api.get('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader');
    expect(lease?.spec).toMatchObject({ holderIdentity: expect.any(String) });
    expect(await api.get('v1', 'Secret', 'istio-system', 'istio-ca-secret')).toBeDefined();
    const rootCert = await eventually(
      () => api.get<KubeObject & { data: Record<string, string> }>('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert'),
      'istio-ca-root-cert in shop',
      20_000,
    );
    expect(rootCert.data['root-cert.pem']).toMatch(/^-----BEGIN CERTIFICATE-----/);
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'late' } });
    await eventually(() => api.get('v1', 'ConfigMap', 'late', 'istio-ca-root-cert'), 'istio-ca-root-cert in a new namespace', 20_000);
  }, 60_000);

  it('analyzes a VirtualService that arrives by watch event', async () => {
    await api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'cart', namespace: 'shop' },
      spec: { hosts: ['cart'], http: [{ route: [{ destination: { host: 'cart', subset: 'v9' } }] }] },
    });
    const analyze = `http://127.0.0.1:${meshd.ports.http}/debug/analyze`;
    type Message = { code: string; level: string; resource: { kind: string; namespace: string; name: string }; message: string };
    const found = await eventually(
      async () => {
        const messages = (await (await fetch(analyze)).json()) as Message[];
        return messages.find(
          (m) => m.code === 'IST0101' && m.resource.kind === 'VirtualService' && m.resource.namespace === 'shop' && m.resource.name === 'cart',
        );
      },
      'IST0101 for the VirtualService in /debug/analyze',
      20_000,
    );
    expect(found.level).toBe('Error');
    expect(found.message).toContain('cart+v9');
  }, 60_000);

  it('restores a deleted or edited istio-ca-root-cert within seconds', async () => {
    type ConfigMap = KubeObject & { data?: Record<string, string> };
    const published = await eventually(() => api.get<ConfigMap>('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert'), 'istio-ca-root-cert in shop', 20_000);
    const rootCert = published.data?.['root-cert.pem'];
    if (rootCert === undefined) throw new Error('istio-ca-root-cert has no root-cert.pem');
    await api.delete('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert');
    const recreated = await eventually(
      () => api.get<ConfigMap>('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert'),
      'istio-ca-root-cert recreated after delete',
      10_000,
    );
    expect(recreated.data).toEqual({ 'root-cert.pem': rootCert });
    expect(recreated.metadata.labels).toMatchObject({ 'istio.io/config': 'true' });
    await api.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio-ca-root-cert', namespace: 'shop' },
      data: { 'root-cert.pem': 'not a certificate', extra: 'x' },
    });
    await eventually(
      async () => {
        const current = await api.get<ConfigMap>('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert');
        return current?.data?.['root-cert.pem'] === rootCert && current.data.extra === undefined;
      },
      'istio-ca-root-cert rewritten after an edit',
      10_000,
    );
  }, 40_000);

  it('writes IST0106 for a rejected update into status by itself, logs the rejection once despite that status write, and clears it on revert', async () => {
    type WithStatus = KubeObject & { status?: { validationMessages?: Array<{ type: { code: string } }> } };
    const codes = async (name: string): Promise<string[]> =>
      ((await api.get<WithStatus>('networking.istio.io/v1', 'VirtualService', 'shop', name))?.status?.validationMessages ?? []).map((m) => m.type.code);
    const valid = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'payments', namespace: 'shop' },
      // Subset v1 exists nowhere: IST0101 in status shows meshd accepted and analysed this version.
      spec: { hosts: ['payments'], http: [{ route: [{ destination: { host: 'cart', subset: 'v1' } }] }] },
    };
    await api.apply(valid);
    await eventually(async () => (await codes('payments')).includes('IST0101'), 'IST0101 in the status of the valid version', 20_000);
    // An update meshd rejects (a negative weight): the previous version keeps serving, so no push follows.
    const rejected = { http: [{ route: [{ destination: { host: 'cart' }, weight: -5 }] }] };
    await api.apply({ ...valid, spec: { ...valid.spec, ...rejected } });
    await eventually(async () => (await codes('payments')).includes('IST0106'), 'IST0106 in status after the rejected update', 10_000);

    // The status write comes back through the watch. A later object of the same
    // kind arrives after it (one watch, in resourceVersion order): once that
    // one is rejected, the status write has been seen too.
    await api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'marker', namespace: 'shop' },
      spec: { hosts: ['marker'], ...rejected },
    });
    await meshd.waitForLog((l) => String(l.msg).startsWith('rejected invalid VirtualService shop/marker'), 10_000);
    expect(meshd.logs.filter((l) => String(l.msg).startsWith('rejected invalid VirtualService shop/payments'))).toHaveLength(1);

    // Back to the version still serving: nothing to push, yet IST0106 leaves the status.
    await api.apply(valid);
    await eventually(
      async () => {
        const now = await codes('payments');
        return now.includes('IST0101') && !now.includes('IST0106');
      },
      'IST0106 cleared once the rejected update is reverted',
      10_000,
    );
  }, 60_000);

  it('signs a CSR for the service account of a bound token, as TokenReview vouches, and nothing else', async () => {
    await api.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'cart', namespace: 'shop' } });
    const token = await api.serviceAccountToken('shop', 'cart', ['istio-ca']);
    const rootCert = await eventually(
      () => api.get<KubeObject & { data: Record<string, string> }>('v1', 'ConfigMap', 'shop', 'istio-ca-root-cert'),
      'root cert',
      20_000,
    );
    const client = new CertificateServiceClient(`127.0.0.1:${meshd.ports.secure}`, grpc.credentials.createSsl(Buffer.from(rootCert.data['root-cert.pem']!)), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    });
    try {
      const own = 'spiffe://cluster.local/ns/shop/sa/cart';
      const signed = await createCertificate(client, { csr: opensslCsr({ key: 'p256', sans: [`URI:${own}`] }).csrPem }, token);
      if (!signed.ok) throw signed.error;
      expect(new X509Certificate(signed.response.certChain[0]!).subjectAltName).toBe(`URI:${own}`);

      const other = await createCertificate(client, { csr: opensslCsr({ key: 'p256', sans: ['URI:spiffe://cluster.local/ns/shop/sa/admin'] }).csrPem }, token);
      expect(other.ok ? 'OK' : other.error.code).toBe(grpc.status.PERMISSION_DENIED);

      // A token for the API server's own audience is not one for istio-ca.
      const apiToken = await api.serviceAccountToken('shop', 'cart', ['https://kubernetes.default.svc.cluster.local']);
      const wrongAudience = await createCertificate(client, { csr: opensslCsr({ key: 'p256', sans: [`URI:${own}`] }).csrPem }, apiToken);
      expect(wrongAudience.ok ? 'OK' : wrongAudience.error.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  }, 60_000);
});
