// A SotW request naming a list another stream already sent (proxies of one scope ask for the same
// 3,000 EDS names) is answered from the pooled names, without decoding them again (issue 13:
// per-proxy work at sync), and means exactly what the decoded request would.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { sotwRequestNames } from '../../src/xds/server/sotwConnection.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, sidecarNode, type ReceivedResponse } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';

const names = Array.from({ length: 300 }, (_, i) => `outbound|80||svc-${i}.ns.svc.cluster.local`);

describe('SotW request names from the pool', () => {
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

  /** A client whose stream is identified by a first request for `typeUrl` (it carries the node, so it is always decoded). */
  const connect = async (name: string, typeUrl: string = TypeUrl.Cluster): Promise<AdsTestClient> => {
    const c = new AdsTestClient(address, 'sotw', sidecarNode(name));
    clients.push(c);
    const first = typeUrl === TypeUrl.Cluster ? [] : ['outbound|80||svc-0.ns.svc.cluster.local'];
    c.request(typeUrl, { names: first });
    // The ACK repeats the names: recognised from its bytes, neither decoded nor pooled.
    c.ack(await c.next(), first);
    return c;
  };
  const counted = () => {
    const before = { ...sotwRequestNames };
    return () => ({ decoded: sotwRequestNames.decoded - before.decoded, pooled: sotwRequestNames.pooled - before.pooled });
  };

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
    source.generator.upsert(loadAssignment(extra, ['10.9.0.1']));
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
