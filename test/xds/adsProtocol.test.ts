// ADS protocol behaviour over real gRPC, for State of the World and Delta.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import type { ProxySyncStatus } from '../../src/status/syncStatus.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { getJson, startTestMeshd } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';
import type { Meshd } from '../../src/meshd.js';

const served = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

describe.each(['sotw', 'delta'] as const)('ADS %s', (protocol) => {
  let source: SnapshotSource;
  let meshd: Meshd;
  let address: string;
  let httpUrl: string;
  const clients: AdsTestClient[] = [];

  const connect = (name: string): AdsTestClient => {
    const c = new AdsTestClient(address, protocol, sidecarNode(name));
    clients.push(c);
    return c;
  };
  const subscribe = (c: AdsTestClient, typeUrl: string, names?: string[]): void => {
    if (protocol === 'sotw') c.request(typeUrl, names ? { names } : {});
    else c.delta(typeUrl, names ? { subscribe: names } : {});
  };
  const syncz = async (proxyName: string): Promise<ProxySyncStatus | undefined> =>
    (await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`)).body.find((s) => s.proxy.includes(`~${proxyName}.`));

  beforeEach(async () => {
    source = new SnapshotSource(served);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b')]);
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.1.0.1']), loadAssignment('b', ['10.1.0.2'])]);
    const started = await startTestMeshd({ resources: source });
    meshd = started.meshd;
    address = started.xdsAddress;
    httpUrl = started.httpUrl;
  });

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await meshd.close();
  });

  it('answers the initial wildcard CDS request with every cluster and is SYNCED after the ACK', async () => {
    const c = connect('app1');
    subscribe(c, TypeUrl.Cluster);
    const r = await c.next();
    expect(r.typeUrl).toBe(TypeUrl.Cluster);
    expect(r.resources.map((x) => x.name).sort()).toEqual(['a', 'b']);
    expect(r.nonce).not.toBe('');
    expect(JSON.parse(r.controlPlane).ID).toBe('istiod-test');
    expect((await syncz('app1'))?.CDS.status).toBe('STALE');
    expect((await syncz('app1'))?.EDS.status).toBe('NOT SENT');
    c.ack(r);
    const s = await eventually(async () => ((await syncz('app1'))?.CDS.status === 'SYNCED' ? syncz('app1') : undefined));
    expect(s.CDS.ackedNonce).toBe(r.nonce);
    expect(s.CDS.sentVersion).toBe(r.versionInfo);
    expect(s.namespace).toBe('default');
    expect(s.version).toBe('1.24.0');
    expect(s.clusterId).toBe('Kubernetes');
  });

  it('sends named EDS resources only, and follows subscribe and unsubscribe', async () => {
    const c = connect('app2');
    subscribe(c, TypeUrl.ClusterLoadAssignment, ['a']);
    const first = await c.next();
    expect(first.resources.map((x) => x.name)).toEqual(['a']);
    if (protocol === 'sotw') c.request(TypeUrl.ClusterLoadAssignment, { nonce: first.nonce, version: first.versionInfo, names: ['a', 'b'] });
    else c.delta(TypeUrl.ClusterLoadAssignment, { nonce: first.nonce, subscribe: ['b'] });
    const second = await c.next();
    expect(second.resources.map((x) => x.name)).toContain('b');
    c.ack(second, ['a', 'b']);
    // Unsubscribe from a, then change both: only b may be pushed.
    if (protocol === 'sotw') c.request(TypeUrl.ClusterLoadAssignment, { nonce: second.nonce, version: second.versionInfo, names: ['b'] });
    else c.delta(TypeUrl.ClusterLoadAssignment, { unsubscribe: ['a'] });
    await eventually(() => meshd.ads.idle().then(() => true));
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.9.0.1']), loadAssignment('b', ['10.9.0.2'])]);
    // The unsubscribe is processed before this push because one stream handles messages in order.
    await eventually(async () => (await syncz('app2'))?.EDS.ackedNonce === second.nonce);
    source.push([TypeUrl.ClusterLoadAssignment]);
    const third = await c.next();
    expect(third.resources.map((x) => x.name)).toEqual(['b']);
    expect(JSON.stringify(third.resources[0]!.body)).toContain('10.9.0.2');
  });

  it('pushes added, changed and removed clusters', async () => {
    const c = connect('app3');
    subscribe(c, TypeUrl.Cluster);
    const first = await c.next();
    c.ack(first);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 5), cluster('c')]);
    source.push([TypeUrl.Cluster]);
    const second = await c.next();
    if (protocol === 'sotw') {
      // State of the World: the full set, b gone by omission.
      expect(second.resources.map((x) => x.name).sort()).toEqual(['a', 'c']);
    } else {
      // Delta: only what changed, b named as removed.
      expect(second.resources.map((x) => x.name).sort()).toEqual(['a', 'c']);
      expect(second.removed).toEqual(['b']);
    }
    const a = second.resources.find((x) => x.name === 'a')!;
    expect(a.body.connectTimeout).toEqual({ seconds: '5' });
    expect(second.nonce).not.toBe(first.nonce);
    c.ack(second);
    // A push where nothing changed sends nothing: prove by a later real change arriving next.
    source.push([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 5)]);
    source.push([TypeUrl.Cluster]);
    const third = await c.next();
    if (protocol === 'sotw') expect(third.resources.map((x) => x.name)).toEqual(['a']);
    else {
      expect(third.resources).toEqual([]);
      expect(third.removed).toEqual(['c']);
    }
  });

  it('records a NACK with its error, keeps pushing newer versions, and recovers', async () => {
    const c = connect('app4');
    subscribe(c, TypeUrl.Cluster);
    const first = await c.next();
    c.nack(first, 'cluster a: invalid connect timeout');
    const nacked = await eventually(async () => ((await syncz('app4'))?.CDS.status === 'NACKED' ? syncz('app4') : undefined));
    expect(nacked.CDS.error).toBe('cluster a: invalid connect timeout');
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/pilot_total_xds_rejects\{type="cds"\} 1/);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 2)]);
    source.push([TypeUrl.Cluster]);
    const second = await c.next();
    expect(second.resources.map((x) => x.name)).toContain('a');
    expect((await syncz('app4'))?.CDS.status).toBe('STALE');
    c.ack(second);
    const synced = await eventually(async () => ((await syncz('app4'))?.CDS.status === 'SYNCED' ? syncz('app4') : undefined));
    expect(synced.CDS.error).toBe('');
  });

  it('ignores a request with a stale nonce', async () => {
    const c = connect('app5');
    subscribe(c, TypeUrl.Cluster);
    const first = await c.next();
    source.generator.setResources(TypeUrl.Cluster, [cluster('z')]);
    source.push([TypeUrl.Cluster]);
    const second = await c.next();
    // ACK of the superseded nonce: must not mark the proxy SYNCED.
    c.ack(first);
    subscribe(c, TypeUrl.ClusterLoadAssignment, ['a']);
    await c.next(); // the EDS answer proves the stale ACK before it was processed
    expect((await syncz('app5'))?.CDS.status).toBe('STALE');
    c.ack(second);
    await eventually(async () => (await syncz('app5'))?.CDS.status === 'SYNCED');
  });

  it('keeps the stream working after a request for an unknown type URL', async () => {
    const c = connect('app6');
    subscribe(c, 'type.googleapis.com/envoy.config.unknown.v3.Thing');
    subscribe(c, TypeUrl.Cluster);
    const r = await c.next();
    expect(r.typeUrl).toBe(TypeUrl.Cluster);
    expect(c.status).toBeUndefined();
  });

  it('sends one shared update to every proxy with the same bytes, encoded once', async () => {
    const proxies = ['p1', 'p2', 'p3', 'p4'].map(connect);
    for (const p of proxies) subscribe(p, TypeUrl.Cluster);
    for (const p of proxies) p.ack(await p.next());
    const shared = cluster('shared', 3);
    source.generator.upsert(shared);
    source.push([TypeUrl.Cluster]);
    const got = await Promise.all(proxies.map((p) => p.next()));
    for (const r of got) {
      const s = r.resources.find((x) => x.name === 'shared');
      expect(s?.body).toEqual(got[0]!.resources.find((x) => x.name === 'shared')!.body);
    }
    // All four saw the same version string of the resource (content hash of the one encoding).
    if (protocol === 'delta') expect(new Set(got.map((r) => r.resources.find((x) => x.name === 'shared')!.version)).size).toBe(1);
  });

  it('pushes only to the proxies a change affects', async () => {
    const one = connect('only-me');
    const other = connect('not-me');
    for (const p of [one, other]) {
      subscribe(p, TypeUrl.Cluster);
      p.ack(await p.next());
    }
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 9)]);
    source.push([TypeUrl.Cluster], (proxy) => proxy.podName === 'only-me');
    expect((await one.next()).resources.map((r) => r.name)).toEqual(['a']);
    // The other proxy's next message is the answer to its own later request: nothing came before it.
    subscribe(other, TypeUrl.ClusterLoadAssignment, ['a']);
    expect((await other.next()).typeUrl).toBe(TypeUrl.ClusterLoadAssignment);
  });
});

describe('ADS Delta reconnect', () => {
  it('sends only resources whose version differs from initial_resource_versions, and removes vanished ones', async () => {
    const source = new SnapshotSource(served);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b'), cluster('c')]);
    const { meshd, xdsAddress } = await startTestMeshd({ resources: source });
    try {
      const first = new AdsTestClient(xdsAddress, 'delta', sidecarNode('recon'));
      first.delta(TypeUrl.Cluster);
      const r = await first.next();
      const versions = Object.fromEntries(r.resources.map((x) => [x.name, x.version!]));
      first.close();
      source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b', 7)]);
      source.push([TypeUrl.Cluster]);
      const again = new AdsTestClient(xdsAddress, 'delta', sidecarNode('recon'));
      again.delta(TypeUrl.Cluster, { initial: versions });
      const r2 = await again.next();
      expect(r2.resources.map((x) => x.name)).toEqual(['b']);
      expect(r2.removed).toEqual(['c']);
      again.close();
    } finally {
      await meshd.close();
    }
  });
});

describe('ADS Delta subscriptions', () => {
  let source: SnapshotSource;
  let meshd: Meshd;
  let c: AdsTestClient;

  beforeEach(async () => {
    source = new SnapshotSource(served);
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.1.0.1']), loadAssignment('b', ['10.1.0.2'])]);
    const started = await startTestMeshd({ resources: source });
    meshd = started.meshd;
    c = new AdsTestClient(started.xdsAddress, 'delta', sidecarNode('subs'));
  });

  afterEach(async () => {
    c.close();
    await meshd.close();
  });

  it('names subscribed resources that do not exist in removed_resources, once, and sends them when they appear', async () => {
    c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['a', 'nope'] });
    const first = await c.next();
    expect(first.resources.map((r) => r.name)).toEqual(['a']);
    expect(first.removed).toEqual(['nope']);
    c.ack(first);
    // Named later, alone: the answer is the removal alone.
    c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['gone'] });
    const second = await c.next();
    expect(second.resources).toEqual([]);
    expect(second.removed).toEqual(['gone']);
    c.ack(second);
    // A push that changes a existing resource does not repeat the absent names.
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.9.0.1']), loadAssignment('b', ['10.1.0.2'])]);
    source.push([TypeUrl.ClusterLoadAssignment]);
    const third = await c.next();
    expect(third.resources.map((r) => r.name)).toEqual(['a']);
    expect(third.removed).toEqual([]);
    c.ack(third);
    source.generator.upsert(loadAssignment('nope', ['10.1.0.3']));
    source.push([TypeUrl.ClusterLoadAssignment]);
    const fourth = await c.next();
    expect(fourth.resources.map((r) => r.name)).toEqual(['nope']);
    expect(fourth.removed).toEqual([]);
  });

  it('answers a name subscribed again, though the proxy holds its latest version', async () => {
    c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['a', 'b'] });
    const first = await c.next();
    c.ack(first);
    // The proxy may have forgotten it (xDS protocol, "Subscribing to Resources"): it is sent again.
    c.delta(TypeUrl.ClusterLoadAssignment, { subscribe: ['b'] });
    const again = await c.next();
    expect(again.resources.map((r) => r.name)).toEqual(['b']);
    expect(again.resources[0]!.version).toBe(first.resources.find((r) => r.name === 'b')!.version);
  });
});

describe('ADS SotW EDS/RDS incremental responses', () => {
  it('answers a newly named load assignment with it alone, pushes one changed assignment alone, and still dumps and syncs the full set', async () => {
    const source = new SnapshotSource(served);
    source.generator.setResources(
      TypeUrl.ClusterLoadAssignment,
      ['a', 'b', 'c'].map((n, i) => loadAssignment(n, [`10.1.0.${i + 1}`])),
    );
    const { meshd, xdsAddress, httpUrl } = await startTestMeshd({ resources: source });
    const c = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('inc'));
    try {
      c.request(TypeUrl.ClusterLoadAssignment, { names: ['a', 'b'] });
      const first = await c.next();
      expect(first.resources.map((x) => x.name)).toEqual(['a', 'b']);
      // Envoy names every cluster it knows in each request: only the new one comes back.
      c.request(TypeUrl.ClusterLoadAssignment, { nonce: first.nonce, version: first.versionInfo, names: ['a', 'b', 'c'] });
      const second = await c.next();
      expect(second.resources.map((x) => x.name)).toEqual(['c']);
      c.ack(second, ['a', 'b', 'c']);

      source.generator.setResources(TypeUrl.ClusterLoadAssignment, [
        loadAssignment('a', ['10.1.0.1']),
        loadAssignment('b', ['10.9.9.9']),
        loadAssignment('c', ['10.1.0.3']),
      ]);
      const push = source.push([TypeUrl.ClusterLoadAssignment]);
      const third = await c.next();
      expect(third.versionInfo).toBe(push.version);
      expect(third.resources.map((x) => x.name)).toEqual(['b']);
      c.ack(third, ['a', 'b', 'c']);

      const synced = await eventually(async () => {
        const all = (await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`)).body;
        const mine = all.find((s) => s.proxy === c.node.id);
        return mine?.EDS.status === 'SYNCED' ? mine : undefined;
      });
      expect(synced.EDS.ackedNonce).toBe(third.nonce);
      const dump = await getJson<{ configs: Array<Record<string, unknown>> }>(`${httpUrl}/debug/config_dump?proxyID=${encodeURIComponent(c.node.id)}`);
      expect(dump.status).toBe(200);
      const text = JSON.stringify(dump.body);
      // The dump holds what the proxy holds: all three assignments, b with its new address.
      for (const name of ['"a"', '"b"', '"c"', '10.9.9.9', '10.1.0.3']) expect(text).toContain(name);
      expect(text).not.toContain('10.1.0.2');
    } finally {
      c.close();
      await meshd.close();
    }
  });

  it('keeps named CDS subscriptions (proxyless gRPC) full state: a new name brings back every named cluster', async () => {
    const source = new SnapshotSource(served);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b'), cluster('c')]);
    const { meshd, xdsAddress } = await startTestMeshd({ resources: source });
    const c = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('named-cds'));
    try {
      c.request(TypeUrl.Cluster, { names: ['a'] });
      const first = await c.next();
      expect(first.resources.map((x) => x.name)).toEqual(['a']);
      c.request(TypeUrl.Cluster, { nonce: first.nonce, version: first.versionInfo, names: ['a', 'b'] });
      expect((await c.next()).resources.map((x) => x.name)).toEqual(['a', 'b']);
    } finally {
      c.close();
      await meshd.close();
    }
  });
});
