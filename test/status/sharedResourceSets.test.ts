// The sync registry keeps what each proxy holds (config dump, CSDS, the
// why-stale diff) as references to shared sets: proxies sent the same
// resources hold one set between them, an ACK copies nothing, and a set is
// dropped once no stream holds it.
import { afterEach, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster } from '../support/xdsFixtures.js';

const names = ['outbound|80||a.default.svc.cluster.local', 'outbound|80||b.default.svc.cluster.local'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function connected(meshd: Meshd, address: string, count: number): Promise<AdsTestClient[]> {
  const clients: AdsTestClient[] = [];
  for (let i = 0; i < count; i++) {
    const client = new AdsTestClient(address, 'sotw', sidecarNode(`proxy-${i}`));
    cleanups.push(() => client.close());
    client.request(TypeUrl.Cluster);
    client.ack(await client.next());
    clients.push(client);
  }
  await eventually(
    () => meshd.status.details().filter((d) => d.types.some((t) => t.status === 'SYNCED')).length === count || undefined,
    5_000,
    'every proxy SYNCED',
  );
  return clients;
}

const heldNames = (meshd: Meshd, which: 'sent' | 'acked') =>
  meshd.status.details().map((d) =>
    meshd.status
      .resourcesOf(d.info.connectionId, which)
      .get(TypeUrl.Cluster)!
      .map((r) => r.name),
  );

describe('shared per-proxy sync state', () => {
  it('proxies holding the same resources share one set per type, across pushes and ACKs, until the last one leaves', async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(
      TypeUrl.Cluster,
      names.map((n) => cluster(n)),
    );
    const { meshd, xdsAddress } = await startTestMeshd({ resources: source });
    cleanups.push(() => meshd.close());
    const clients = await connected(meshd, xdsAddress, 3);
    expect(heldNames(meshd, 'acked')).toEqual([names, names, names]);
    // One CDS set for three proxies: sent, acknowledged and last response alike.
    expect(meshd.status.sharedSets).toBe(1);
    const [first] = meshd.status.details();
    expect(first!.types[0]!.sent[0]).toBe(meshd.status.details()[2]!.types[0]!.sent[0]);

    source.generator.upsert(cluster('outbound|80||c.default.svc.cluster.local'));
    source.push([TypeUrl.Cluster]);
    for (const client of clients) client.ack(await client.next());
    const withC = [...names, 'outbound|80||c.default.svc.cluster.local'];
    await eventually(() => heldNames(meshd, 'acked').every((n) => n.length === 3) || undefined, 5_000, 'every proxy to ACK the new cluster');
    expect(heldNames(meshd, 'sent')).toEqual([withC, withC, withC]);
    // The old set went with the last proxy that held it.
    expect(meshd.status.sharedSets).toBe(1);

    clients[0]!.close();
    await eventually(() => meshd.status.details().length === 2 || undefined, 5_000, 'the closed stream to go');
    expect(meshd.status.sharedSets).toBe(1);
    clients[1]!.close();
    clients[2]!.close();
    await eventually(() => meshd.status.details().length === 0 || undefined, 5_000, 'every stream to go');
    expect(meshd.status.sharedSets).toBe(0);
  });
});
