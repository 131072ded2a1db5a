// Slow and stuck proxies under pushes and requests, over real gRPC: one response in flight per
// stream, the global byte budget never exceeded, newer pushes replacing unsent ones, and other
// proxies unaffected.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl, type XdsResource } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import type { ConnectionInfo, ResponseSentEvent } from '../../src/xds/server/events.js';
import type { Meshd, MeshdConfig } from '../../src/meshd.js';
import { AdsTestClient, eventually, sidecarNode, type ReceivedResponse } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster } from '../support/xdsFixtures.js';

const served = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

/** `count` clusters of about 500 bytes; `round` shows in every one (its connect timeout). */
const bigClusters = (round: number, count = 3000): XdsResource[] => Array.from({ length: count }, (_, i) => cluster(`c${i}-${'x'.repeat(400)}`, round + 1));

/**
 * A TCP relay to meshd whose proxy side can stop reading, like a stuck proxy:
 * the kernel's buffers fill, then HTTP/2 flow control, and meshd's writes stall.
 */
async function stallableRelay(target: string): Promise<{ address: string; stall(): void; resume(): void; close(): void }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const pairs: Array<{ upstream: net.Socket; downstream: net.Socket }> = [];
  let stalled = false;
  const server = net.createServer((downstream) => {
    const upstream = net.connect(port, host);
    pairs.push({ upstream, downstream });
    downstream.pipe(upstream);
    if (!stalled) upstream.pipe(downstream);
    const end = (): void => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall: () => {
      stalled = true;
      // Unpiped and paused: nothing resumes reading meshd's bytes.
      for (const { upstream } of pairs) {
        upstream.unpipe();
        upstream.pause();
      }
    },
    resume: () => {
      stalled = false;
      for (const { upstream, downstream } of pairs) upstream.pipe(downstream);
    },
    close: () => {
      pairs.forEach(({ upstream }) => upstream.destroy());
      server.close();
    },
  };
}

const timeoutOf = (r: ReceivedResponse): unknown => (r.resources[0]?.body.connectTimeout as { seconds?: unknown } | undefined)?.seconds;

describe('ADS backpressure', () => {
  let meshd: Meshd | undefined;
  const clients: AdsTestClient[] = [];
  const relays: Array<{ close(): void }> = [];
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    relays.splice(0).forEach((r) => r.close());
    await meshd?.close();
    meshd = undefined;
  });

  async function start(pushConcurrency: number, clusters = 3000, config: Partial<MeshdConfig> = {}) {
    const source = new SnapshotSource(served);
    source.generator.setResources(TypeUrl.Cluster, bigClusters(0, clusters));
    const sent = new Map<string, ResponseSentEvent[]>();
    const events = {
      responseSent: (c: ConnectionInfo, e: ResponseSentEvent) => sent.set(c.proxy.id, [...(sent.get(c.proxy.id) ?? []), e]),
    };
    const started = await startTestMeshd({ resources: source, events: [events] }, { pushConcurrency, ...config });
    meshd = started.meshd;
    const connect = (name: string, address = started.xdsAddress): AdsTestClient => {
      const c = new AdsTestClient(address, 'sotw', sidecarNode(name));
      clients.push(c);
      return c;
    };
    const sentTo = (c: AdsTestClient): ResponseSentEvent[] => sent.get(c.node.id) ?? [];
    const relay = async () => {
      const r = await stallableRelay(started.xdsAddress);
      relays.push(r);
      return r;
    };
    return { source, meshd: started.meshd, connect, sentTo, relay };
  }

  it('keeps pushing to other proxies while one never reads, holding at most one response for it, then sends it only the newest', async () => {
    // One push at a time: a stuck stream holding its slot would stop every other push.
    const { source, meshd, connect, sentTo, relay } = await start(1);
    const stuckPath = await relay();
    const stuck = connect('stuck', stuckPath.address);
    // A small first exchange, so the HTTP/2 connection is up before the proxy stops reading.
    stuck.request(TypeUrl.ClusterLoadAssignment, { names: ['none'] });
    stuck.ack(await stuck.next(), ['none']);
    stuckPath.stall();
    stuck.request(TypeUrl.Cluster);
    const cdsTo = (c: AdsTestClient) => sentTo(c).filter((e) => e.typeUrl === TypeUrl.Cluster);
    await eventually(() => cdsTo(stuck).length === 1, 5_000, 'the first response to the stuck proxy');
    const firstBytes = cdsTo(stuck)[0]!.bytes;
    await eventually(() => meshd.ads.queuedBytes > 0, 5_000, 'the stuck response to stay queued');

    const healthy = connect('healthy');
    healthy.request(TypeUrl.Cluster);
    healthy.ack(await healthy.next(10_000));
    const rounds = 5;
    for (let round = 1; round <= rounds; round++) {
      source.generator.setResources(TypeUrl.Cluster, bigClusters(round));
      const push = source.push([TypeUrl.Cluster]);
      let response = await healthy.next(10_000);
      healthy.ack(response);
      // Pushes merge while the healthy proxy is busy: read until this round's version.
      while (response.versionInfo !== push.version) {
        response = await healthy.next(10_000);
        healthy.ack(response);
      }
      expect(timeoutOf(response)).toBe(`${round + 1}`);
    }

    expect(cdsTo(stuck)).toHaveLength(1);
    const stuckConnection = meshd.ads.streams().find((c) => c.proxy.id === stuck.node.id)!;
    expect(stuckConnection.queuedBytes).toBeLessThanOrEqual(firstBytes);
    expect(meshd.ads.queuedBytes).toBeLessThanOrEqual(firstBytes);

    // Once it reads again it gets its first response, then one with the newest state only.
    stuckPath.resume();
    const first = await stuck.next(10_000);
    expect(timeoutOf(first)).toBe('1');
    stuck.ack(first);
    const newest = await stuck.next(10_000);
    expect(newest.versionInfo).toBe(`v${rounds}`);
    expect(timeoutOf(newest)).toBe(`${rounds + 1}`);
    stuck.ack(newest);
    await eventually(() => meshd.ads.idle().then(() => true), 5_000, 'the queue to empty');
    expect(cdsTo(stuck)).toHaveLength(2);
    expect(meshd.ads.queuedBytes).toBe(0);
  });

  it('keeps the response bytes in flight under the budget while many proxies never read, and still syncs the others', async () => {
    const cap = 4 * 2 ** 20;
    const { meshd, connect, relay } = await start(100, 3000, { maxQueuedBytes: cap });
    const stuckPath = await relay();
    const stuck = Array.from({ length: 4 }, (_, i) => connect(`stuck-${i}`, stuckPath.address));
    // A small first exchange, so the HTTP/2 connection is up before the proxies stop reading.
    for (const c of stuck) c.request(TypeUrl.ClusterLoadAssignment, { names: ['none'] });
    for (const c of stuck) c.ack(await c.next(), ['none']);
    stuckPath.stall();
    // Each initial CDS response is about 1.5 MB: four of them would hold 6 MB in flight.
    for (const c of stuck) c.request(TypeUrl.Cluster);
    await eventually(() => meshd.ads.responsesWaiting > 0, 5_000, 'responses to wait for room under the budget');

    const healthy = Array.from({ length: 3 }, (_, i) => connect(`healthy-${i}`));
    for (const c of healthy) c.request(TypeUrl.Cluster);
    for (const c of healthy) {
      const response = await c.next(30_000);
      expect(response.resources).toHaveLength(3000);
      c.ack(response);
    }
    expect(meshd.ads.queuedBytesHighWater).toBeGreaterThan(2 ** 20);
    expect(meshd.ads.queuedBytesHighWater).toBeLessThanOrEqual(cap);
    const metrics = await (await fetch(`http://127.0.0.1:${meshd.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/^meshd_xds_queued_response_bytes_high_water \d+$/m);
  });

  it('gives a proxy that connects during a push the newest state', async () => {
    await connectDuringPush({});
  });

  it('gives a proxy that connects during a push the newest state when every response waits for the byte budget', async () => {
    // A budget of one byte: a response goes out only once no other is in flight.
    await connectDuringPush({ maxQueuedBytes: 1 });
  });

  async function connectDuringPush(config: Partial<MeshdConfig>): Promise<void> {
    const { source, connect } = await start(2, 300, config);
    const early = Array.from({ length: 6 }, (_, i) => connect(`early-${i}`));
    for (const c of early) c.request(TypeUrl.Cluster);
    for (const c of early) c.ack(await c.next(10_000));

    source.generator.setResources(TypeUrl.Cluster, bigClusters(1, 300));
    source.push([TypeUrl.Cluster]);
    const late = connect('late');
    late.request(TypeUrl.Cluster);
    source.generator.setResources(TypeUrl.Cluster, bigClusters(2, 300));
    const newest = source.push([TypeUrl.Cluster]);

    // Whatever it was sent first, it ends with the newest push, and each response's content is the one its version names.
    let response = await late.next(10_000);
    late.ack(response);
    const contentOf: Record<string, string> = { v1: '2', v2: '3' };
    for (;;) {
      expect(timeoutOf(response)).toBe(contentOf[response.versionInfo]);
      if (response.versionInfo === newest.version) break;
      response = await late.next(10_000);
      late.ack(response);
    }
    for (const c of early) {
      let r = await c.next(10_000);
      expect(timeoutOf(r)).toBe(contentOf[r.versionInfo]);
      while (r.versionInfo !== newest.version) {
        c.ack(r);
        r = await c.next(10_000);
        expect(timeoutOf(r)).toBe(contentOf[r.versionInfo]);
      }
    }
  }
});
