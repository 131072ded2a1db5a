// Bad input on ADS streams: each gets a defined answer and other streams keep working.
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import type { ProxySyncStatus } from '../../src/status/syncStatus.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { getJson, startTestMeshd, type LogCapture } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';

describe('ADS bad input', () => {
  let source: SnapshotSource;
  let meshd: Meshd;
  let address: string;
  let httpUrl: string;
  let logs: LogCapture;
  const clients: AdsTestClient[] = [];
  const connect = (name: string, protocol: 'sotw' | 'delta' = 'sotw'): AdsTestClient => {
    const c = new AdsTestClient(address, protocol, sidecarNode(name));
    clients.push(c);
    return c;
  };
  /** A healthy bystander proves that the other streams still work. */
  const bystanderWorks = async (): Promise<void> => {
    const b = connect(`bystander-${clients.length}`);
    b.request(TypeUrl.Cluster);
    expect((await b.next()).resources.length).toBeGreaterThan(0);
  };

  beforeEach(async () => {
    source = new SnapshotSource([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.0.0.1'])]);
    const s = await startTestMeshd({ resources: source });
    ({ meshd, logs } = s);
    address = s.xdsAddress;
    httpUrl = s.httpUrl;
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await meshd.close();
  });

  it('ends a stream whose message is not a DiscoveryRequest with INVALID_ARGUMENT', async () => {
    const c = connect('garbage');
    c.writeRaw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const status = await c.ended();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/malformed DiscoveryRequest/);
    await bystanderWorks();
  });

  it('ends a stream whose first request has no node with INVALID_ARGUMENT', async () => {
    const c = connect('nonode');
    c.request(TypeUrl.Cluster, { withoutNode: true });
    const status = await c.ended();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/must carry node/);
    await bystanderWorks();
  });

  it('ends a stream whose node id is not TYPE~IP~POD.NS~DOMAIN with a reason', async () => {
    const c = new AdsTestClient(address, 'delta', { id: 'just-a-name' });
    clients.push(c);
    c.delta(TypeUrl.Cluster);
    const status = await c.ended();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/must have 4 parts/);
  });

  it('ignores a request without type_url and keeps the stream', async () => {
    const c = connect('notype');
    c.request('');
    c.request(TypeUrl.Cluster);
    expect((await c.next()).typeUrl).toBe(TypeUrl.Cluster);
    expect(c.status).toBeUndefined();
  });

  it('keeps a stream whose generation fails: logs it once, serves the other types, and recovers on the next push', async () => {
    const generator = source.generator;
    const generate = generator.generate.bind(generator);
    let failing = true;
    generator.generate = (proxy, watch, request) => {
      if (failing && watch.typeUrl === TypeUrl.Cluster && proxy.id.includes('broken')) throw new Error('cluster "a": unknown field "conectTimeout"');
      return generate(proxy, watch, request);
    };
    const broken = connect('broken');
    broken.request(TypeUrl.Cluster);
    broken.request(TypeUrl.ClusterLoadAssignment, { names: ['a'] });
    const first = await broken.next();
    expect(first.typeUrl).toBe(TypeUrl.ClusterLoadAssignment);
    expect(broken.status).toBeUndefined();
    await eventually(() => expect(logs.find((l) => String(l.msg).startsWith(`generating ${TypeUrl.Cluster} for sidecar~`))).toBeDefined());
    expect(String(logs.find((l) => String(l.msg).startsWith(`generating ${TypeUrl.Cluster}`))!.msg)).toContain('unknown field "conectTimeout"');
    await bystanderWorks();
    failing = false;
    source.generator.setResources(TypeUrl.Cluster, [cluster('a'), cluster('b')]);
    source.push([TypeUrl.Cluster]);
    const recovered = await broken.next();
    expect(recovered.typeUrl).toBe(TypeUrl.Cluster);
    expect(recovered.resources.map((r) => r.name).sort()).toEqual(['a', 'b']);
  });

  it('records one NACK out of a storm and keeps serving', async () => {
    const c = connect('storm');
    c.request(TypeUrl.Cluster);
    const r = await c.next();
    for (let i = 0; i < 200; i++) c.nack(r, `bad ${i}`);
    c.request(TypeUrl.ClusterLoadAssignment, { names: ['a'] });
    await c.next(); // every NACK before it has been processed
    const s = (await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`)).body.find((x) => x.proxy.includes('~storm.'));
    expect(s?.CDS.status).toBe('NACKED');
    expect(s?.CDS.error).toBe('bad 0');
    expect(logs.lines.filter((l) => l.msg === 'proxy rejected configuration (NACK)')).toHaveLength(1);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 4)]);
    source.push([TypeUrl.Cluster]);
    expect((await c.next()).typeUrl).toBe(TypeUrl.Cluster);
  });

  it('survives a client that vanishes in the middle of a push', async () => {
    const many = Array.from({ length: 20 }, (_, i) => connect(`vanish${i}`));
    for (const c of many) c.request(TypeUrl.Cluster);
    for (const c of many) c.ack(await c.next());
    // A large update, then half of the clients disappear while it is being written.
    source.generator.setResources(
      TypeUrl.Cluster,
      Array.from({ length: 300 }, (_, i) => cluster(`big-${i}`)),
    );
    source.push([TypeUrl.Cluster]);
    many.slice(0, 10).forEach((c) => c.close());
    for (const c of many.slice(10)) expect((await c.next()).resources).toHaveLength(300);
    await meshd.ads.idle();
    await eventually(async () => (await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`)).body.filter((s) => s.proxy.includes('~vanish')).length === 10);
    await bystanderWorks();
  });

  it('survives a flood of reconnects and forgets every closed stream', async () => {
    const channel = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      for (let round = 0; round < 5; round++) {
        const batch = Array.from(
          { length: 40 },
          (_, i) => new AdsTestClient(address, round % 2 ? 'delta' : 'sotw', sidecarNode(`flood${i}`), { client: channel }),
        );
        batch.forEach((c) => (c.protocol === 'sotw' ? c.request(TypeUrl.Cluster) : c.delta(TypeUrl.Cluster)));
        await Promise.all(batch.map((c) => c.next()));
        batch.forEach((c) => c.cancel());
      }
      await eventually(async () => (await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`)).body.length === 0, 5_000, 'closed streams forgotten');
      expect(meshd.ads.streams()).toHaveLength(0);
      const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/pilot_xds\{version="1.24.0"\} 0/);
    } finally {
      channel.close();
    }
    await bystanderWorks();
  });
});

describe('per-connection stream limit', () => {
  it('holds a connection to its concurrent-stream limit, admitting the next stream when one closes', async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    const { meshd, xdsAddress } = await startTestMeshd({ resources: source }, { maxStreamsPerConnection: 2 });
    const channel = new grpc.Client(xdsAddress, grpc.credentials.createInsecure());
    const streams = [0, 1, 2].map((i) => new AdsTestClient(xdsAddress, 'sotw', sidecarNode(`limited${i}`), { client: channel }));
    try {
      streams.forEach((s) => s.request(TypeUrl.Cluster));
      await streams[0]!.next();
      await streams[1]!.next();
      // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS = 2: the third stream waits for a free slot.
      await expect(streams[2]!.next(1_000)).rejects.toThrow(/no response within/);
      expect(meshd.ads.streams()).toHaveLength(2);
      streams[0]!.cancel();
      expect((await streams[2]!.next()).typeUrl).toBe(TypeUrl.Cluster);
    } finally {
      streams.forEach((s) => s.cancel());
      channel.close();
      await meshd.close();
    }
  });
});

describe('draining', () => {
  it('ends every stream with UNAVAILABLE, reports not ready, and stops within the bound', async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    const { meshd, xdsAddress, httpUrl } = await startTestMeshd({ resources: source });
    expect((await fetch(`${httpUrl}/ready`)).status).toBe(200);
    const c = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('drain'));
    c.request(TypeUrl.Cluster);
    await c.next();
    const started = Date.now();
    const closing = meshd.close();
    const status = await c.ended();
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    await closing;
    expect(Date.now() - started).toBeLessThan(2_000 + 1_000);
    c.close();
  });
});
