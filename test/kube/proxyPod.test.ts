// Finding a connecting proxy's pod in the watched pods (labels, service
// account), with istiod's fallbacks, through the real informers.
import { afterEach, describe, expect, it } from 'vitest';
import { parseProxy } from '../../src/model/proxy.js';
import { backoffDelay } from '../../src/sources/kube/backoff.js';
import { KubeSource } from '../../src/sources/kube/kubeSource.js';
import { podChangeAffectsProxy, podKeyOfProxy, resolveProxyWorkload } from '../../src/sources/kube/proxyPod.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { RecordingSink, captureLogger, eventually, namespace, pod } from '../support/fakeKubeApiHelpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sidecar = (id: string, metadata: Record<string, unknown> = {}) => parseProxy({ id, metadata });

async function startSource() {
  const api = await FakeKubeApi.start();
  cleanups.push(() => api.close());
  api.apply(namespace('shop'));
  api.apply(pod('shop', 'cart-1', { app: 'cart', version: 'v1' }, '10.0.0.5', 'cart-sa'));
  const sink = new RecordingSink();
  const source = new KubeSource({ kubeConfig: api.kubeConfig(), logger: captureLogger().logger, kinds: ['Namespace', 'Pod', 'ConfigMap'] });
  cleanups.push(() => source.stop());
  await source.start(sink.sink);
  return { api, sink, source };
}

describe('proxy pod lookup', () => {
  it('takes labels and service account from the pod named by the node id, over node metadata', async () => {
    const { source } = await startSource();
    const proxy = sidecar('sidecar~10.0.0.5~cart-1.shop~shop.svc.cluster.local', { NAMESPACE: 'shop', LABELS: { app: 'stale' }, SERVICE_ACCOUNT: 'old-sa' });
    expect(resolveProxyWorkload(proxy, source)).toEqual({
      labels: { app: 'cart', version: 'v1' },
      serviceAccount: 'cart-sa',
      pod: { namespace: 'shop', name: 'cart-1' },
      from: 'pod',
    });
  });

  it('follows pod label changes, and says when a change affects the proxy', async () => {
    const { api, source, sink } = await startSource();
    const proxy = sidecar('sidecar~10.0.0.5~cart-1.shop~shop.svc.cluster.local', { NAMESPACE: 'shop' });
    const before = source.getPod('shop', 'cart-1');
    api.apply(pod('shop', 'cart-1', { app: 'cart', version: 'v2' }, '10.0.0.5', 'cart-sa'));
    await eventually(() => (sink.get('Pod', 'shop', 'cart-1')?.metadata.labels ?? {}).version === 'v2', 'pod update delivered');
    expect(resolveProxyWorkload(proxy, source).labels.version).toBe('v2');
    expect(podChangeAffectsProxy(before, source.getPod('shop', 'cart-1'))).toBe(true);
    const relabelled = source.getPod('shop', 'cart-1');
    expect(podChangeAffectsProxy(relabelled, { ...relabelled!, status: { phase: 'Succeeded' } })).toBe(false);
  });

  it('falls back to the pod owning the proxy IP, then to node metadata', async () => {
    const { source } = await startSource();
    // The id names no known pod (e.g. a renamed pod), but the IP is cart-1's.
    const byIp = sidecar('sidecar~10.0.0.5~unknown.shop~shop.svc.cluster.local', { NAMESPACE: 'shop' });
    expect(resolveProxyWorkload(byIp, source)).toMatchObject({ from: 'pod', pod: { name: 'cart-1' } });
    const vm = sidecar('sidecar~192.168.1.9~vm-1.shop~shop.svc.cluster.local', { NAMESPACE: 'shop', LABELS: { app: 'vm' }, SERVICE_ACCOUNT: 'vm-sa' });
    expect(resolveProxyWorkload(vm, source)).toEqual({ labels: { app: 'vm' }, serviceAccount: 'vm-sa', from: 'node-metadata' });
  });

  it('reads the pod key from the node id only when the namespace agrees with node metadata', () => {
    expect(podKeyOfProxy(sidecar('sidecar~1.1.1.1~cart-1.shop~shop.svc.cluster.local', { NAMESPACE: 'shop' }))).toEqual({ namespace: 'shop', name: 'cart-1' });
    expect(podKeyOfProxy(sidecar('sidecar~1.1.1.1~cart-1.shop~shop.svc.cluster.local', { NAMESPACE: 'other' }))).toBeUndefined();
    expect(podKeyOfProxy(sidecar('router~1.1.1.1~gw.a.b~shop.svc.cluster.local', { NAMESPACE: 'a' }))).toBeUndefined();
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, with jitter within the upper half', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, { ...options, random: () => 1 }))).toEqual([100, 200, 400, 800, 1000]);
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, { ...options, random: () => 0 }))).toEqual([50, 100, 200, 400, 500]);
  });
});
