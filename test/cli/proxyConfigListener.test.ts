// `meshctl proxy-config listener` (the real binary) prints a sidecar's listeners
// as istioctl does: wrapper-typed match fields as their values, istioctl's
// MATCH and DESTINATION texts and its row order.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainMatch } from '../../src/cli/proxyConfig.js';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';
import { meshctl } from '../support/meshctl.js';
import { reviewsDestinationRuleV1, reviewsPodV1, reviewsService, reviewsVirtualService, yamlDocuments } from '../support/reviewsMesh.js';

describe('meshctl proxy-config listener', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  let client: AdsTestClient;
  let table: string[][];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-listeners-'));
    await writeFile(path.join(dir, 'mesh.yaml'), yamlDocuments(reviewsService, reviewsPodV1, reviewsDestinationRuleV1, reviewsVirtualService('v1')));
    const { logger } = captureLogs('info');
    server = await serve({ ...loopbackConfig, configDir: dir }, { logger });
    await eventually(() => server.ready);
    // The reviews pod itself: outbound listeners, virtualOutbound and virtualInbound with its port 9080.
    client = new AdsTestClient(
      `127.0.0.1:${server.ports.xds}`,
      'sotw',
      sidecarNode('reviews-v1-abc', 'default', { LABELS: { app: 'reviews', version: 'v1' } }),
    );
    client.request(TypeUrl.Listener);
    client.ack(await client.next());
    const { code, stdout, stderr } = await meshctl(['--server', `http://127.0.0.1:${server.ports.http}`, 'proxy-config', 'listener', 'reviews-v1-abc.default']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    table = stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints no object where a value belongs', () => {
    expect(table.flat().join('\n')).not.toContain('[object');
  });

  it("shows virtualOutbound's blackhole chain as istioctl does: Addr: *:15001, Non-HTTP/Non-TCP, after the catch-all", () => {
    const outbound = table.filter((r) => r[1] === '15001');
    expect(outbound).toEqual([
      ['0.0.0.0', '15001', 'ALL', 'PassthroughCluster'],
      ['0.0.0.0', '15001', 'Addr: *:15001', 'Non-HTTP/Non-TCP'],
    ]);
  });

  it("shows virtualInbound's per-port chains with their destination port, and istioctl's ALPN names", () => {
    const inbound = table.filter((r) => r[1] === '15006');
    expect(inbound).toContainEqual(['0.0.0.0', '15006', 'Trans: raw_buffer; Addr: *:9080', 'Cluster: inbound|9080||']);
    expect(inbound).toContainEqual(['0.0.0.0', '15006', 'Trans: tls; App: TCP TLS', 'InboundPassthroughCluster']);
    expect(inbound).toContainEqual(['0.0.0.0', '15006', 'Trans: raw_buffer; App: http/1.1,h2c', 'InboundPassthroughCluster']);
  });

  it('orders listeners by port', () => {
    const ports = table.slice(1).map((r) => Number(r[1]));
    expect(ports).toEqual([...ports].sort((a, b) => a - b));
    expect(ports).toContain(9080);
  });

  it('reads wrapper-typed fields in either JSON shape (protobufjs {value} or proto3 bare), prefix ranges with the port', () => {
    const prefixRanges = [
      { addressPrefix: '10.0.0.0', prefixLen: { value: 8 } },
      { addressPrefix: '10.1.2.3', prefixLen: 32 },
    ];
    expect(chainMatch({ filterChainMatch: { prefixRanges, destinationPort: { value: 9080 } } })).toBe('Addr: 10.0.0.0/8,10.1.2.3/32:9080');
    expect(chainMatch({ filterChainMatch: { destinationPort: 9080, transportProtocol: 'tls', serverNames: ['a.example'] } })).toBe(
      'SNI: a.example; Trans: tls; Addr: *:9080',
    );
    expect(chainMatch({ filterChainMatch: { prefixRanges: [{ addressPrefix: '::' }] } })).toBe('Addr: ::/0');
    expect(chainMatch({})).toBe('ALL');
  });
});
