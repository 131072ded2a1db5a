// `meshd serve --check-consistency` end to end: the real file-mode pipeline, a real SotW ADS client over
// gRPC. An EnvoyFilter ADDs an EDS cluster whose service name no service has, so meshd generates no load
// assignment for it (Envoy would keep the cluster warming): the check logs it naming the proxy, the
// cluster and the name, counts it, and clears it once the EnvoyFilter is gone. Pushes go out regardless.
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/meshd.js';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { captureLogs, type LogCapture } from '../support/meshdHarness.js';
import { reviewsService } from '../support/reviewsMesh.js';

const customEdsCluster = `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: custom-eds, namespace: default}
spec:
  configPatches:
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND}
    patch:
      operation: ADD
      value:
        name: custom-eds
        type: EDS
        connect_timeout: 1s
        eds_cluster_config: {eds_config: {ads: {}, resource_api_version: V3}, service_name: custom-eds-service}
`;

type Served = Awaited<ReturnType<typeof serve>>;

async function metricValue(server: Served, line: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${server.ports.http}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const inconsistencies = (logs: LogCapture) => logs.lines.filter((l) => String(l.msg).startsWith('inconsistent xDS resources'));

async function start(dir: string, checkConsistency: boolean): Promise<{ server: Served; logs: LogCapture }> {
  const { logger, logs } = captureLogs('info');
  const server = await serve(
    { ...defaultConfig, configDir: dir, host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, debounceAfterMs: 20, checkConsistency },
    { logger },
  );
  await eventually(() => server.ready, 10_000, 'meshd ready');
  return { server, logs };
}

/** A sidecar that subscribes to CDS and answers with an ACK; resolves with the cluster names of its first response. */
async function connectSidecar(server: Served): Promise<{ client: AdsTestClient; clusters: string[] }> {
  const client = new AdsTestClient(`127.0.0.1:${server.ports.xds}`, 'sotw', sidecarNode('web'));
  client.request(TypeUrl.Cluster);
  const response = await client.next(10_000);
  client.ack(response);
  return { client, clusters: response.resources.map((r) => r.name) };
}

describe('meshd serve --check-consistency', () => {
  let dir: string;
  let server: Served;
  let logs: LogCapture;
  let client: AdsTestClient;
  const proxyId = sidecarNode('web').id;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-consistency-'));
    await writeFile(path.join(dir, 'svc.yaml'), reviewsService);
    await writeFile(path.join(dir, 'filter.yaml'), customEdsCluster);
    ({ server, logs } = await start(dir, true));
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs and counts an EDS name a cluster sent to a proxy references and meshd does not generate, without holding the push back', async () => {
    const connected = await connectSidecar(server);
    client = connected.client;
    // The push itself went out: the proxy has the cluster.
    expect(connected.clusters).toContain('custom-eds');
    const [line] = await eventually(() => (inconsistencies(logs).length > 0 ? inconsistencies(logs) : undefined), 10_000, 'the inconsistency logged');
    expect(line).toMatchObject({ level: 50, proxy: proxyId, type: 'EDS', referencedBy: 'custom-eds', missing: 'custom-eds-service' });
    expect(String(line!.msg)).toContain(`proxy ${proxyId}: EDS cluster custom-eds names load assignment "custom-eds-service"`);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references_total{type="EDS"}')).toBe(1);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references')).toBe(1);
    // Every other reference resolves: the service's own cluster is not reported.
    expect(inconsistencies(logs)).toHaveLength(1);
  });

  it('clears the unresolved count once the configuration is fixed, and reports the problem again when it comes back', async () => {
    await unlink(path.join(dir, 'filter.yaml'));
    await eventually(async () => (await metricValue(server, 'meshd_xds_inconsistent_references')) === 0, 10_000, 'the reference resolved');
    expect(inconsistencies(logs)).toHaveLength(1);

    await writeFile(path.join(dir, 'filter.yaml'), customEdsCluster);
    await eventually(() => inconsistencies(logs).length === 2, 10_000, 'the inconsistency logged again');
    expect(await metricValue(server, 'meshd_xds_inconsistent_references_total{type="EDS"}')).toBe(2);
  });
});

describe('meshd serve without --check-consistency', () => {
  it('runs no check: no log line, no metric', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-consistency-off-'));
    await writeFile(path.join(dir, 'svc.yaml'), reviewsService);
    await writeFile(path.join(dir, 'filter.yaml'), customEdsCluster);
    const { server, logs } = await start(dir, false);
    try {
      const { client, clusters } = await connectSidecar(server);
      expect(clusters).toContain('custom-eds');
      client.close();
      expect(await metricValue(server, 'meshd_xds_inconsistent_references')).toBeUndefined();
      expect(inconsistencies(logs)).toEqual([]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
