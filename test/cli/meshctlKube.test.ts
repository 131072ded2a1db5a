// The real bin/meshctl with --kubeconfig against two meshd replicas: it finds
// the meshd pods (app=istiod in istio-system) through the fake API server and
// reads each replica's debug API through the pod proxy subresource, merging
// what the replicas say. Each replica runs in-process (serve --config-dir),
// with its own proxies connected over ADS.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, sidecarNode } from '../support/adsClient.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { eventually, namespace, pod } from '../support/fakeKubeApiHelpers.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';
import { meshctl } from '../support/meshctl.js';
import { reviewsMissingSubset } from '../support/reviewsMesh.js';

// VirtualService reviews routes to subset v2, which the DestinationRule lacks: IST0101 on both replicas.
const mesh = reviewsMissingSubset;

type Replica = Awaited<ReturnType<typeof serve>>;
const other = (replica: string): string => (replica === 'istiod-7c9f-a' ? 'istiod-7c9f-b' : 'istiod-7c9f-a');

/** A proxy that asked for clusters and acknowledged them, so the replica reports it SYNCED for CDS. */
async function connectProxy(replica: Replica, name: string): Promise<AdsTestClient> {
  const client = new AdsTestClient(`127.0.0.1:${replica.ports.xds}`, 'sotw', sidecarNode(name, 'default'));
  client.request(TypeUrl.Cluster);
  client.ack(await client.next());
  return client;
}

/** NAME → ISTIOD column of a proxy-status table. */
function istiodColumn(table: string): Record<string, string> {
  const [header, ...rows] = table.trimEnd().split('\n');
  const columns = header!.split(/\s{2,}/);
  expect(columns).toEqual(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION']);
  return Object.fromEntries(rows.map((r) => r.split(/\s{2,}/)).map((cells) => [cells[0]!, cells[7]!]));
}

// Every test runs the real meshctl several times (a Node start each): generous bounds on a shared machine.
describe('meshctl --kubeconfig with two meshd replicas', { timeout: 120_000 }, () => {
  let dir: string;
  let kubeconfig: string;
  let api: FakeKubeApi;
  const replicas: Replica[] = [];
  const clients: AdsTestClient[] = [];
  const proxyPath = (podName: string) => `/api/v1/namespaces/istio-system/pods/${podName}:15014/proxy/`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshctl-kube-'));
    await writeFile(path.join(dir, 'mesh.yaml'), mesh);
    api = await FakeKubeApi.start();
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, api.kubeconfigYaml());
    api.apply(namespace('istio-system'));
    for (const [index, id] of ['istiod-7c9f-a', 'istiod-7c9f-b'].entries()) {
      const { logger } = captureLogs('warn');
      const replica = await serve({ ...loopbackConfig, configDir: dir, controlPlaneId: id }, { logger });
      replicas.push(replica);
      api.apply(pod('istio-system', id, { app: 'istiod' }, `10.9.0.${index + 1}`));
      api.proxyPod('istio-system', id, 15014, `http://127.0.0.1:${replica.ports.http}`);
    }
    // A third meshd pod the API server cannot reach (no proxy target: 404), and a pod of another app.
    api.apply(pod('istio-system', 'istiod-7c9f-unreachable', { app: 'istiod' }, '10.9.0.3'));
    api.apply(pod('istio-system', 'prometheus-0', { app: 'prometheus' }, '10.9.0.4'));
    await eventually(() => replicas.every((r) => r.ready), 'both replicas ready');
    clients.push(await connectProxy(replicas[0]!, 'productpage'), await connectProxy(replicas[1]!, 'ratings'));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const r of replicas) await r.close();
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('proxy-status lists the proxies of both replicas, each with its replica in the ISTIOD column', async () => {
    const { code, stdout, stderr } = await meshctl(['--kubeconfig', kubeconfig, 'proxy-status']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(istiodColumn(stdout)).toEqual({ 'productpage.default': 'istiod-7c9f-a', 'ratings.default': 'istiod-7c9f-b' });
    expect(stdout).toMatch(/^productpage\.default\s+Kubernetes\s+SYNCED\s/m);
    // Every meshd pod was asked (the unreachable one too), through the pod proxy; the other app's pod was not.
    for (const podName of ['istiod-7c9f-a', 'istiod-7c9f-b', 'istiod-7c9f-unreachable']) {
      expect(
        api.requests.some((r) => r.path === `${proxyPath(podName)}debug/syncz`),
        podName,
      ).toBe(true);
    }
    expect(api.requests.some((r) => r.path.includes('prometheus-0'))).toBe(false);
    const listed = api.requests.find((r) => r.path === '/api/v1/namespaces/istio-system/pods');
    expect(decodeURIComponent(listed?.query ?? '')).toBe('?labelSelector=app=istiod');
  });

  it('proxy-status POD.NS and proxy-config cluster POD.NS find the proxy on whichever replica holds it', async () => {
    for (const [proxy, holder] of [
      ['productpage.default', 'istiod-7c9f-a'],
      ['ratings.default', 'istiod-7c9f-b'],
    ] as const) {
      const detail = await meshctl(['--kubeconfig', kubeconfig, 'proxy-status', proxy]);
      expect(detail.code, detail.stderr).toBe(0);
      expect(detail.stdout).toMatch(new RegExp(`^Proxy ${proxy.replace('.', '\\.')} \\(sidecar~`));
      expect(detail.stdout).toMatch(/^CDS\s+SYNCED\s/m);
      const json = JSON.parse((await meshctl(['--kubeconfig', kubeconfig, 'proxy-status', proxy, '-o', 'json'])).stdout) as { proxy: string };
      expect(json.proxy).toContain(`~${proxy}~`);

      const clusters = await meshctl(['--kubeconfig', kubeconfig, 'proxy-config', 'cluster', proxy]);
      expect(clusters.code, clusters.stderr).toBe(0);
      expect(clusters.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE']);
      expect(clusters.stdout).toMatch(/^reviews\.default\.svc\.cluster\.local\s+9080\s+v1\s+outbound\s+EDS\s+reviews\.default$/m);
      // The detail and the config dump came from the replica holding the proxy; the others answered 404.
      const answered = (endpoint: string) =>
        api.requests
          .filter((r) => r.path.endsWith(endpoint) && r.query === `?proxyID=${encodeURIComponent(proxy)}`)
          .map((r) => `${r.path.split('/')[6]} ${r.status}`);
      expect(new Set(answered('/debug/proxy_status'))).toEqual(
        new Set([`${holder}:15014 200`, `${other(holder)}:15014 404`, 'istiod-7c9f-unreachable:15014 404']),
      );
      expect(answered('/debug/config_dump').sort()).toEqual([`${holder}:15014 200`, `${other(holder)}:15014 404`, 'istiod-7c9f-unreachable:15014 404'].sort());
    }
    const unknown = await meshctl(['--kubeconfig', kubeconfig, 'proxy-config', 'cluster', 'details.default']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('proxy "details.default" is not connected to meshd pods (app=istiod) in istio-system');
  });

  it('analyze merges the replicas without repeating a message, and exits 1 on an Error', async () => {
    const { code, stdout } = await meshctl(['--kubeconfig', kubeconfig, 'analyze']);
    expect(code).toBe(1);
    expect(stdout.match(/^Error \[IST0101\] \(VirtualService default\/reviews/gm)).toHaveLength(1);
    expect(stdout).toContain('"reviews+v2"');
    const json = JSON.parse((await meshctl(['--kubeconfig', kubeconfig, 'analyze', '-o', 'json'])).stdout) as Array<{ code: string }>;
    expect(json.filter((m) => m.code === 'IST0101')).toHaveLength(1);
    // Both replicas were asked.
    for (const podName of ['istiod-7c9f-a', 'istiod-7c9f-b']) {
      expect(
        api.requests.some((r) => r.path === `${proxyPath(podName)}debug/analyze` && r.status === 200),
        podName,
      ).toBe(true);
    }
  });

  it('a replica answering 500 does not hide the others', async () => {
    api.failNext(100, 500, (_method, p) => p.startsWith(proxyPath('istiod-7c9f-b')));
    try {
      const status = await meshctl(['--kubeconfig', kubeconfig, 'proxy-status']);
      expect(status.code, status.stderr).toBe(0);
      expect(istiodColumn(status.stdout)).toEqual({ 'productpage.default': 'istiod-7c9f-a' });
      const detail = await meshctl(['--kubeconfig', kubeconfig, 'proxy-status', 'productpage.default']);
      expect(detail.code, detail.stderr).toBe(0);
      expect(detail.stdout).toMatch(/^CDS\s+SYNCED\s/m);
      expect(api.requests.some((r) => r.path.startsWith(proxyPath('istiod-7c9f-b')) && r.status === 500)).toBe(true);
    } finally {
      api.clearFaults();
    }
  });

  it('no running meshd pod: a clear error and exit status 2', async () => {
    const empty = await FakeKubeApi.start();
    try {
      empty.apply(namespace('istio-system'));
      // A pending meshd pod is not running either.
      empty.apply({ ...pod('istio-system', 'istiod-pending', { app: 'istiod' }, '10.9.0.5'), status: { phase: 'Pending' } });
      const emptyKubeconfig = path.join(dir, 'empty-kubeconfig');
      await writeFile(emptyKubeconfig, empty.kubeconfigYaml());
      for (const command of [['proxy-status'], ['analyze'], ['proxy-config', 'cluster', 'productpage.default']]) {
        const result = await meshctl(['--kubeconfig', emptyKubeconfig, ...command]);
        expect(result.code, command.join(' ')).toBe(2);
        expect(result.stderr).toBe('Error: no running meshd pod matches app=istiod in namespace istio-system\n');
        expect(result.stdout).toBe('');
      }
    } finally {
      await empty.close();
    }
  });
});
