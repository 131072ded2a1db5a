// Kubernetes mode: a proxy is described by its pod, and re-evaluated when the
// pod's labels change (here: a Service starts selecting it, so its inbound
// listener gains that port) without the proxy reconnecting.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { istioCaSecretName, istioCaSecretType, newSelfSignedCaSecretData } from '../../src/ca/index.js';
import { defaultConfig } from '../../src/meshd.js';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, type ReceivedResponse } from '../support/adsClient.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { eventually, namespace, pod, service } from '../support/fakeKubeApiHelpers.js';
import { captureLogs } from '../support/meshdHarness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Destination ports of the virtualInbound filter chains in an LDS response. */
function inboundPorts(lds: ReceivedResponse): number[] {
  const inbound = lds.resources.find((r) => r.name === 'virtualInbound')?.body as { filterChains?: Array<{ filterChainMatch?: { destinationPort?: { value?: number } } }> } | undefined;
  return [...new Set((inbound?.filterChains ?? []).map((c) => c.filterChainMatch?.destinationPort?.value).filter((p): p is number => typeof p === 'number'))];
}

describe('proxy described by its pod', () => {
  it('re-evaluates a connected proxy when its pod is relabelled', async () => {
    const api = await FakeKubeApi.start();
    cleanups.push(() => api.close());
    api.apply(namespace('istio-system'));
    api.apply(namespace('shop'));
    api.apply(service('shop', 'web', 8080));
    api.apply(pod('shop', 'client-1', { app: 'client' }, '10.0.0.9'));
    api.apply({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: istioCaSecretName, namespace: 'istio-system' },
      type: istioCaSecretType, data: newSelfSignedCaSecretData({ trustDomain: 'cluster.local' }),
    });
    const dir = mkdtempSync(join(tmpdir(), 'meshd-relabel-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfigYaml());
    const meshd = await serve(
      { ...defaultConfig, kubeconfig: join(dir, 'kubeconfig'), host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, debounceAfterMs: 20, debounceMaxMs: 200 },
      { logger: captureLogs('warn').logger },
    );
    cleanups.push(() => meshd.close());
    await eventually(() => meshd.ready, 'meshd ready', 20_000);

    // The node metadata claims app=web; the pod (app=client) wins, so no inbound 8080 yet.
    const client = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', {
      id: 'sidecar~10.0.0.9~client-1.shop~shop.svc.cluster.local',
      metadata: { NAMESPACE: 'shop', LABELS: { app: 'web' }, ISTIO_VERSION: '1.24.0' },
    });
    cleanups.push(() => client.close());
    client.request(TypeUrl.Listener);
    const first = await client.next();
    expect(inboundPorts(first)).not.toContain(8080);
    client.ack(first);

    api.apply(pod('shop', 'client-1', { app: 'web' }, '10.0.0.9'));
    let latest = first;
    await eventually(async () => {
      latest = await client.next(10_000);
      client.ack(latest);
      return latest.typeUrl === TypeUrl.Listener && inboundPorts(latest).includes(8080);
    }, 'an LDS push with inbound 8080', 20_000);
    expect(client.status).toBeUndefined();
  }, 60_000);
});
