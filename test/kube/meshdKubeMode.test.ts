// The real `meshd serve --kubeconfig` process against the fake API server:
// it rides out a failing API server at start without exiting, then syncs,
// wins the istio-leader Lease, creates the CA secret as the leader, and
// /ready turns 200.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { eventually, namespace, pod, service } from '../support/fakeKubeApiHelpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

describe('meshd serve --kubeconfig', () => {
  it('keeps retrying a failing API server, then becomes ready and creates the CA secret as leader', async () => {
    const api = await FakeKubeApi.start();
    cleanups.push(() => api.close());
    api.apply(namespace('istio-system'));
    api.apply(namespace('shop'));
    api.apply(service('shop', 'cart'));
    api.apply(pod('shop', 'cart-1', { app: 'cart' }, '10.0.0.5'));
    const dir = mkdtempSync(join(tmpdir(), 'meshd-kube-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfigYaml());

    // Every answer fails at first: meshd must keep retrying without exiting
    // (spawnMeshd fails if the process exits before it listens).
    api.failNext(1_000_000, 503);
    const starting = spawnMeshd(['--kubeconfig', kubeconfig], 40_000);
    // eslint-disable-next-line prefer-const -- `let`: the cleanup reads it and may run before it is assigned
    let meshd: MeshdProcess | undefined;
    cleanups.push(async () => {
      const started = meshd ?? (await starting.catch(() => undefined));
      started?.child.kill('SIGKILL');
    });
    await eventually(() => api.requests.filter((r) => r.status === 503).length >= 10, 'repeated attempts against the failing API server', 20_000);
    api.clearFaults();
    meshd = await starting;
    expect(meshd.child.exitCode).toBeNull();

    const ready = `http://127.0.0.1:${meshd.ports.http}/ready`;
    await eventually(async () => (await httpStatus(ready)) === 200, '/ready 200', 20_000);
    // The Lease holder did the singleton work.
    expect(api.get('Lease', 'istio-system', 'istio-leader')?.spec).toMatchObject({ holderIdentity: expect.any(String) });
    expect(api.get('Secret', 'istio-system', 'istio-ca-secret')).toBeDefined();
    // The Lease holder publishes the root certificate in every namespace, and in new ones as they appear.
    await eventually(() => api.get('ConfigMap', 'shop', 'istio-ca-root-cert') !== undefined, 'istio-ca-root-cert in shop', 20_000);
    const published = api.get('ConfigMap', 'shop', 'istio-ca-root-cert') as unknown as { data: Record<string, string> };
    expect(published.data['root-cert.pem']).toMatch(/^-----BEGIN CERTIFICATE-----/);
    api.apply(namespace('late'));
    await eventually(() => api.get('ConfigMap', 'late', 'istio-ca-root-cert') !== undefined, 'istio-ca-root-cert in a new namespace', 20_000);
  }, 90_000);
});
