// /debug/config_dump and /debug/proxy_status take the name proxy-status shows
// (POD.NAMESPACE), a bare POD, or the full node id; meshd resolves it once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import type { ProxyDetail } from '../../src/status/proxyDetail.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode, type TestNode } from '../support/adsClient.js';
import { getJson, startTestMeshd } from '../support/meshdHarness.js';
import { meshctl } from '../support/meshctl.js';
import { cluster } from '../support/xdsFixtures.js';

interface ConfigDump {
  configs: Array<{ '@type': string; dynamicActiveClusters?: Array<{ cluster: { name: string } }> }>;
}

describe('naming a proxy to the debug API', () => {
  let meshd: Meshd;
  let httpUrl: string;
  let xdsAddress: string;
  const clients: AdsTestClient[] = [];
  const restarted: TestNode = { ...sidecarNode('reviews-v1', 'bookinfo'), id: 'sidecar~10.0.0.99~reviews-v1.bookinfo~bookinfo.svc.cluster.local' };

  const connect = async (node: TestNode): Promise<void> => {
    const c = new AdsTestClient(xdsAddress, 'sotw', node);
    clients.push(c);
    c.request(TypeUrl.Cluster);
    c.ack(await c.next());
  };
  const connectedAt = (id: string): number => Date.parse(meshd.status.syncz().find((s) => s.proxy === id)?.connectedAt ?? '');

  beforeAll(async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    ({ meshd, httpUrl, xdsAddress } = await startTestMeshd({ resources: source }));
    // reviews-v1.bookinfo twice (its pod restarted with a new IP; the old stream not yet gone),
    // and a pod named productpage in two namespaces.
    const first = sidecarNode('reviews-v1', 'bookinfo');
    await connect(first);
    await eventually(() => Date.now() > connectedAt(first.id));
    await connect(restarted);
    await connect(sidecarNode('productpage', 'default'));
    await connect(sidecarNode('productpage', 'staging'));
    await eventually(() => meshd.status.syncz().filter((s) => s.CDS.status === 'SYNCED').length === 4);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await meshd.close();
  });

  it('config_dump accepts POD.NAMESPACE, as proxy-status shows it', async () => {
    const { status, body } = await getJson<ConfigDump>(`${httpUrl}/debug/config_dump?proxyID=productpage.staging`);
    expect(status).toBe(200);
    const clusters = body.configs.find((c) => c['@type'].endsWith('ClustersConfigDump'))!.dynamicActiveClusters!;
    expect(clusters.map((c) => c.cluster.name)).toEqual(['a']);
  });

  it('proxy_status accepts POD.NAMESPACE, a bare POD when one namespace has it, and the full node id', async () => {
    const byName = await getJson<ProxyDetail>(`${httpUrl}/debug/proxy_status?proxyID=productpage.default`);
    expect(byName.status).toBe(200);
    expect(byName.body.proxy).toBe(sidecarNode('productpage', 'default').id);
    const byPod = await getJson<ProxyDetail>(`${httpUrl}/debug/proxy_status?proxyID=reviews-v1`);
    expect(byPod.status).toBe(200);
    const byId = await getJson<ProxyDetail>(`${httpUrl}/debug/proxy_status?proxyID=${encodeURIComponent(sidecarNode('productpage', 'staging').id)}`);
    expect(byId.body.proxy).toBe(sidecarNode('productpage', 'staging').id);
  });

  it('a pod with two streams resolves to the newest', async () => {
    for (const endpoint of ['proxy_status', 'config_dump']) {
      expect((await getJson(`${httpUrl}/debug/${endpoint}?proxyID=reviews-v1.bookinfo`)).status).toBe(200);
    }
    const { body } = await getJson<ProxyDetail>(`${httpUrl}/debug/proxy_status?proxyID=reviews-v1.bookinfo`);
    expect(body.proxy).toBe(restarted.id);
  });

  it('a bare POD found in several namespaces is refused with the candidates (409)', async () => {
    const { status, body } = await getJson<{ error: string; candidates: string[] }>(`${httpUrl}/debug/proxy_status?proxyID=productpage`);
    expect(status).toBe(409);
    expect(body.candidates).toEqual(['productpage.default', 'productpage.staging']);
    expect(body.error).toContain('name one as POD.NAMESPACE');
  });

  it('a missing proxyID is a 400; an unknown proxy a 404 naming it', async () => {
    for (const endpoint of ['config_dump', 'proxy_status']) {
      const missing = await getJson<{ error: string }>(`${httpUrl}/debug/${endpoint}`);
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatch(/proxyID is required/);
      const unknown = await getJson<{ error: string }>(`${httpUrl}/debug/${endpoint}?proxyID=details-v1.bookinfo`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toBe('proxy "details-v1.bookinfo" is not connected to istiod-test');
    }
  });

  it('meshctl passes the name through: proxy-status POD -n NAMESPACE, and a clear error for an unknown or ambiguous proxy', async () => {
    const detail = await meshctl(['--server', httpUrl, 'proxy-status', 'productpage', '-n', 'staging', '-o', 'json']);
    expect(detail.code, detail.stderr).toBe(0);
    expect((JSON.parse(detail.stdout) as ProxyDetail).proxy).toBe(sidecarNode('productpage', 'staging').id);
    const unknown = await meshctl(['--server', httpUrl, 'proxy-config', 'cluster', 'details-v1.bookinfo']);
    expect(unknown).toMatchObject({ code: 2, stderr: `Error: proxy "details-v1.bookinfo" is not connected to ${httpUrl} (see meshctl proxy-status)\n` });
    const ambiguous = await meshctl(['--server', httpUrl, 'proxy-status', 'productpage']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('matches proxies of several pods (productpage.default, productpage.staging)');
  });
});
