// A NACK's error_detail is the proxy's text: meshd keeps a bounded prefix of it
// (syncz, proxy_status, the log line) and says how much was cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import type { ProxyDetail } from '../../src/status/proxyDetail.js';
import type { ProxySyncStatus } from '../../src/status/syncStatus.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { maxErrorDetailBytes } from '../../src/xds/server/wire.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { getJson, startTestMeshd, type LogCapture } from '../support/meshdHarness.js';
import { cluster } from '../support/xdsFixtures.js';

const oneMiB = 1024 * 1024;

describe('a NACK with a 1 MiB error detail', () => {
  let meshd: Meshd;
  let logs: LogCapture;
  let httpUrl: string;
  const clients: AdsTestClient[] = [];
  // Envoy's reason first, then a huge tail; 'é' (2 bytes in UTF-8) makes the cut fall inside a character.
  const head = 'Proto constraint validation failed (ClusterValidationError.Name: value length must be at least 1 characters): ';
  const hugeError = head + 'é'.repeat((oneMiB - head.length) / 2);

  beforeAll(async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    let xdsAddress: string;
    ({ meshd, logs, httpUrl, xdsAddress } = await startTestMeshd({ resources: source }));
    const sotw = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('ratings-v1', 'bookinfo'));
    const delta = new AdsTestClient(xdsAddress, 'delta', sidecarNode('details-v1', 'bookinfo'));
    clients.push(sotw, delta);
    sotw.request(TypeUrl.Cluster);
    sotw.nack(await sotw.next(), hugeError);
    delta.delta(TypeUrl.Cluster);
    delta.nack(await delta.next(), hugeError);
    await eventually(() => meshd.status.syncz().filter((s) => s.CDS.status === 'NACKED').length === 2);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await meshd.close();
  });

  const expectBounded = (error: string): void => {
    expect(Buffer.byteLength(error)).toBeLessThan(maxErrorDetailBytes + 100);
    expect(error.startsWith(head)).toBe(true);
    expect(error).toMatch(new RegExp(`é… \\(truncated, ${Buffer.byteLength(hugeError)} bytes\\)$`));
    expect(error).not.toContain('\uFFFD');
  };

  it('syncz keeps a bounded prefix and says it was truncated, for SotW and Delta', async () => {
    const { status, body } = await getJson<ProxySyncStatus[]>(`${httpUrl}/debug/syncz`);
    expect(status).toBe(200);
    expect(body).toHaveLength(2);
    for (const proxy of body) {
      expect(proxy.CDS.status).toBe('NACKED');
      expectBounded(proxy.CDS.error);
    }
  });

  it('proxy_status shows the same bounded error', async () => {
    const id = meshd.status.syncz().find((s) => s.proxy.includes('~ratings-v1.'))!.proxy;
    const { body } = await getJson<ProxyDetail>(`${httpUrl}/debug/proxy_status?proxyID=${encodeURIComponent(id)}`);
    expectBounded(body.types.find((t) => t.type === 'CDS')!.error);
  });

  it('each NACK is logged once, with the bounded error', () => {
    const lines = logs.lines.filter((l) => l.msg === 'proxy rejected configuration (NACK)');
    expect(lines).toHaveLength(2);
    for (const line of lines) expectBounded(String(line.error));
    expect(Math.max(...logs.lines.map((l) => JSON.stringify(l).length))).toBeLessThan(maxErrorDetailBytes + 2_000);
  });

  it('a short error detail is kept whole', async () => {
    const c = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', sidecarNode('reviews-v1', 'bookinfo'));
    clients.push(c);
    c.request(TypeUrl.Cluster);
    c.nack(await c.next(), 'bad cluster');
    await eventually(() => meshd.status.syncz().find((s) => s.proxy.includes('~reviews-v1.'))?.CDS.error === 'bad cluster');
  });
});
