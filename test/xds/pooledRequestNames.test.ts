// A SotW request naming a list another stream already sent (proxies of one scope ask for the same
// 3,000 EDS names) is answered from the pooled names, without decoding them again (issue 13:
// per-proxy work at sync), and means exactly what the decoded request would. Delta subscribe and
// unsubscribe lists likewise.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { deltaRequestNames } from '../../src/xds/server/deltaSubscription.js';
import { sotwRequestNames } from '../../src/xds/server/sotwConnection.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, sidecarNode, type ReceivedResponse } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';

const names = Array.from({ length: 300 }, (_, i) => `outbound|80||svc-${i}.ns.svc.cluster.local`);

/** meshd serving two clusters and the 300 load assignments of `names`, started anew for each test; its clients closed after. */
function servedMesh(): { source: () => SnapshotSource; address: () => string; clients: AdsTestClient[] } {
  let source: SnapshotSource;
  let meshd: Meshd;
  let address: string;
  const clients: AdsTestClient[] = [];
  beforeEach(async () => {
    source = new SnapshotSource([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b')]);
    source.generator.setResources(
      TypeUrl.ClusterLoadAssignment,
      names.map((n, i) => loadAssignment(n, [`10.1.${Math.floor(i / 250)}.${i % 250}`])),
    );
    const started = await startTestMeshd({ resources: source });
    meshd = started.meshd;
    address = started.xdsAddress;
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await meshd.close();
  });
  return { source: () => source, address: () => address, clients };
}

/** Counts the name lists decoded and taken from the pool since it was called. */
function since(counter: { decoded: number; pooled: number }): () => { decoded: number; pooled: number } {
  const before = { ...counter };
  return () => ({ decoded: counter.decoded - before.decoded, pooled: counter.pooled - before.pooled });
}

describe('SotW request names from the pool', () => {
  const { source, address, clients } = servedMesh();

  /** A client whose stream is identified by a first request for `typeUrl` (it carries the node, so it is always decoded). */
  const connect = async (name: string, typeUrl: string = TypeUrl.Cluster): Promise<AdsTestClient> => {
    const c = new AdsTestClient(address(), 'sotw', sidecarNode(name));
    clients.push(c);
    const first = typeUrl === TypeUrl.Cluster ? [] : ['outbound|80||svc-0.ns.svc.cluster.local'];
    c.request(typeUrl, { names: first });
    // The ACK repeats the names: recognised from its bytes, neither decoded nor pooled.
    c.ack(await c.next(), first);
    return c;
  };
  const counted = () => since(sotwRequestNames);

  it('decodes a name list once for all the streams that send it, and answers each in full', async () => {
    const streams = [await connect('one'), await connect('two'), await connect('three')];
    const work = counted();
    const last = new Map<AdsTestClient, ReceivedResponse>();
    for (const c of streams) {
      c.request(TypeUrl.ClusterLoadAssignment, { names });
      const response = await c.next();
      expect(response.resources.map((r) => r.name)).toEqual(names);
      c.ack(response, names);
      last.set(c, response);
    }
    expect(work()).toEqual({ decoded: 1, pooled: 2 });

    // A change of the names on an ACK: the streams sending the same new list follow it from the pool.
    const extra = 'outbound|80||extra.ns.svc.cluster.local';
    source().generator.upsert(loadAssignment(extra, ['10.9.0.1']));
    const changed = counted();
    for (const c of streams) {
      const acked = last.get(c)!;
      c.request(TypeUrl.ClusterLoadAssignment, { names: [...names, extra], nonce: acked.nonce, version: acked.versionInfo });
      // Only the newly named resource is sent (SotW EDS carries what the proxy lacks).
      expect((await c.next()).resources.map((r) => r.name)).toEqual([extra]);
    }
    expect(changed()).toEqual({ decoded: 1, pooled: 2 });
  });

  it('keeps a wildcard request a wildcard when its names come from the pool', async () => {
    const streams = [await connect('one', TypeUrl.ClusterLoadAssignment), await connect('two', TypeUrl.ClusterLoadAssignment)];
    const work = counted();
    for (const c of streams) {
      // '*' and a name: every cluster (a named-only subscription would get 'a' alone).
      c.request(TypeUrl.Cluster, { names: ['*', 'a'] });
      expect((await c.next()).resources.map((r) => r.name)).toEqual(['a', 'b']);
    }
    expect(work()).toEqual({ decoded: 1, pooled: 1 });
  });
});

describe('Delta request names from the pool', () => {
  const { source, address, clients } = servedMesh();

  /** A Delta client identified by a CDS wildcard subscription (its first request carries the node: always decoded). */
  const connect = async (name: string): Promise<AdsTestClient> => {
    const c = new AdsTestClient(address(), 'delta', sidecarNode(name));
    clients.push(c);
    c.delta(TypeUrl.Cluster);
    c.ack(await c.next());
    return c;
  };
  const counted = () => since(deltaRequestNames);
  const sorted = (response: ReceivedResponse): string[] => response.resources.map((r) => r.name).sort();

  it('decodes a subscribe list once for all the streams that send it, and answers each in full', async () => {
    const streams = [await connect('one'), await connect('two'), await connect('three')];
    const work = counted();
    for (const c of streams) {
      c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: names });
      const response = await c.next();
      expect(sorted(response)).toEqual([...names].sort());
      c.ack(response);
    }
    expect(work()).toEqual({ decoded: 1, pooled: 2 });

    // A new name subscribed by every stream, and another unsubscribed: one decoding per list.
    const extra = 'outbound|80||extra.ns.svc.cluster.local';
    source().generator.upsert(loadAssignment(extra, ['10.9.0.1']));
    const changed = counted();
    for (const c of streams) {
      c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: [extra], unsubscribe: [names[0]!] });
      const response = await c.next();
      expect(response.resources.map((r) => r.name)).toEqual([extra]);
      c.ack(response);
    }
    expect(changed()).toEqual({ decoded: 2, pooled: 4 });

    // Each stream now follows the changed names: an update to the unsubscribed name reaches nobody, one to a subscribed name everybody.
    source().generator.upsert(loadAssignment(names[0]!, ['10.9.0.2']));
    source().generator.upsert(loadAssignment(names[1]!, ['10.9.0.3']));
    source().push([TypeUrl.ClusterLoadAssignment]);
    for (const c of streams) expect((await c.next()).resources.map((r) => r.name)).toEqual([names[1]]);
  });

  it('keeps a pooled subscribe list with a wildcard a wildcard', async () => {
    const streams = [new AdsTestClient(address(), 'delta', sidecarNode('one')), new AdsTestClient(address(), 'delta', sidecarNode('two'))];
    clients.push(...streams);
    for (const c of streams) {
      // Identified by an EDS request with the node, then a CDS request naming '*' and 'a': every cluster.
      c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: [names[0]!] });
      c.ack(await c.next());
    }
    const work = counted();
    for (const c of streams) {
      c.delta(TypeUrl.Cluster, { subscribe: ['*', 'a'] });
      expect(sorted(await c.next())).toEqual(['a', 'b']);
    }
    expect(work()).toEqual({ decoded: 1, pooled: 1 });
  });
});
