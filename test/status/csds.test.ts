// CSDS answered over real gRPC for connected proxies.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupType } from '../../src/proto/envoyRoot.js';
import type { Meshd } from '../../src/meshd.js';
import { TypeUrl, jsonConversion } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster } from '../support/xdsFixtures.js';

interface ClientConfigJson {
  node: { id: string };
  genericXdsConfigs?: Array<{
    typeUrl: string;
    name: string;
    versionInfo: string;
    configStatus?: string;
    clientStatus?: string;
    xdsConfig?: { '@type': string; name?: string };
    errorState?: { details: string };
  }>;
}

function fetchClientStatus(address: string, request: Record<string, unknown>): Promise<ClientConfigJson[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const reqType = lookupType('envoy.service.status.v3.ClientStatusRequest');
  const resType = lookupType('envoy.service.status.v3.ClientStatusResponse');
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(reqType.encode(reqType.fromObject(request)).finish()),
      (err, res) => {
        client.close();
        if (err || !res) return reject(err ?? new Error('CSDS call returned no response'));
        const json = resType.toObject(resType.decode(res), { ...jsonConversion, bytes: String }) as { config?: ClientConfigJson[] };
        resolve(json.config ?? []);
      },
    );
  });
}

describe('CSDS', () => {
  let meshd: Meshd;
  let address: string;
  const clients: AdsTestClient[] = [];
  beforeAll(async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('outbound|80||a.default.svc.cluster.local')]);
    ({ meshd, xdsAddress: address } = await startTestMeshd({ resources: source }));
    const good = new AdsTestClient(address, 'sotw', sidecarNode('good'));
    const bad = new AdsTestClient(address, 'delta', sidecarNode('bad'));
    clients.push(good, bad);
    good.request(TypeUrl.Cluster);
    good.ack(await good.next());
    bad.delta(TypeUrl.Cluster);
    bad.nack(await bad.next(), 'unknown field');
    await eventually(() => meshd.status.syncz().every((s) => s.CDS.status === 'SYNCED' || s.CDS.status === 'NACKED'));
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await meshd.close();
  });

  it('reports every connected proxy with its resources and sync state', async () => {
    const configs = await fetchClientStatus(address, {});
    expect(configs.map((c) => c.node.id).sort()).toEqual([sidecarNode('bad').id, sidecarNode('good').id].sort());
    const good = configs.find((c) => c.node.id === sidecarNode('good').id)!;
    expect(good.genericXdsConfigs).toHaveLength(1);
    const cds = good.genericXdsConfigs![0]!;
    expect(cds).toMatchObject({ typeUrl: TypeUrl.Cluster, name: 'outbound|80||a.default.svc.cluster.local', configStatus: 'SYNCED', clientStatus: 'ACKED' });
    // The Any decodes against Envoy's Cluster proto.
    expect(cds.xdsConfig).toMatchObject({ '@type': TypeUrl.Cluster, name: 'outbound|80||a.default.svc.cluster.local', type: 'EDS' });
    const bad = configs.find((c) => c.node.id === sidecarNode('bad').id)!;
    expect(bad.genericXdsConfigs![0]).toMatchObject({ configStatus: 'ERROR', clientStatus: 'NACKED', errorState: { details: 'unknown field' } });
  });

  it('filters by node id matcher and can leave resource contents out', async () => {
    const configs = await fetchClientStatus(address, {
      nodeMatchers: [{ nodeId: { prefix: 'sidecar~' } }, { nodeId: { exact: 'nobody' } }],
      excludeResourceContents: true,
    });
    expect(configs).toHaveLength(2);
    const only = await fetchClientStatus(address, { nodeMatchers: [{ nodeId: { exact: sidecarNode('good').id } }], excludeResourceContents: true });
    expect(only.map((c) => c.node.id)).toEqual([sidecarNode('good').id]);
    expect(only[0]!.genericXdsConfigs![0]!.xdsConfig).toBeUndefined();
  });
});
