// `meshd serve --check-consistency` end to end: the real file-mode pipeline, real SotW ADS clients over
// gRPC. One EnvoyFilter ADDs to sidecars an EDS cluster whose service name no service has, so meshd generates
// no load assignment for it; another ADDs to gateways a listener naming a route configuration no Gateway
// server defines (istiod does not answer it either). Envoy would keep both warming: the check logs each,
// naming the proxy, the cluster or listener and the name, counts them, and clears one once its EnvoyFilter
// is gone. Pushes go out regardless.
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { captureLogs, loopbackConfig, type LogCapture } from '../support/meshdHarness.js';
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

const gatewayListener = `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: gateway-listener, namespace: istio-system}
spec:
  configPatches:
  - applyTo: LISTENER
    match: {context: GATEWAY}
    patch:
      operation: ADD
      value:
        name: custom-8443
        address: {socket_address: {address: 0.0.0.0, port_value: 8443}}
        filter_chains:
        - filters:
          - name: envoy.filters.network.http_connection_manager
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
              stat_prefix: custom
              rds: {route_config_name: custom-gateway-routes, config_source: {ads: {}, resource_api_version: V3}}
              http_filters:
              - name: envoy.filters.http.router
                typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`;

const gatewayNode = {
  id: 'router~10.0.0.9~gw-1.istio-system~istio-system.svc.cluster.local',
  metadata: { NAMESPACE: 'istio-system', CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: { istio: 'ingressgateway' } },
};

type Served = Awaited<ReturnType<typeof serve>>;

async function metricValue(server: Served, line: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${server.ports.http}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const inconsistencies = (logs: LogCapture, type?: string) =>
  logs.lines.filter((l) => String(l.msg).startsWith('inconsistent xDS resources') && (type === undefined || l.type === type));

async function start(dir: string, checkConsistency: boolean): Promise<{ server: Served; logs: LogCapture }> {
  const { logger, logs } = captureLogs('info');
  const server = await serve({ ...loopbackConfig, configDir: dir, debounceAfterMs: 20, checkConsistency }, { logger });
  await eventually(() => server.ready, 10_000, 'meshd ready');
  return { server, logs };
}

/** A sidecar that subscribes to CDS, then LDS, as Envoy does, acknowledging each; resolves with the cluster and listener names. */
async function connectSidecar(server: Served): Promise<{ client: AdsTestClient; clusters: string[]; listeners: string[] }> {
  const client = new AdsTestClient(`127.0.0.1:${server.ports.xds}`, 'sotw', sidecarNode('web'));
  client.request(TypeUrl.Cluster);
  const clusters = await client.next(10_000);
  client.ack(clusters);
  client.request(TypeUrl.Listener);
  const listeners = await client.next(10_000);
  client.ack(listeners);
  return { client, clusters: clusters.resources.map((r) => r.name), listeners: listeners.resources.map((r) => r.name) };
}

describe('meshd serve --check-consistency', () => {
  let dir: string;
  let server: Served;
  let logs: LogCapture;
  let client: AdsTestClient;
  let gateway: AdsTestClient;
  const proxyId = sidecarNode('web').id;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-consistency-'));
    await writeFile(path.join(dir, 'svc.yaml'), reviewsService);
    await writeFile(path.join(dir, 'filter.yaml'), customEdsCluster);
    await writeFile(path.join(dir, 'gateway-filter.yaml'), gatewayListener);
    ({ server, logs } = await start(dir, true));
  });
  afterAll(async () => {
    client?.close();
    gateway?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs and counts an EDS name a cluster sent to a proxy references and meshd does not generate, without holding the push back', async () => {
    const connected = await connectSidecar(server);
    client = connected.client;
    // The pushes went out: the proxy has the cluster, and the listener whose route configuration (9080) is checked too.
    expect(connected.clusters).toContain('custom-eds');
    expect(connected.listeners).toContain('0.0.0.0_9080');
    const [line] = await eventually(
      () => (inconsistencies(logs, 'EDS').length > 0 ? inconsistencies(logs, 'EDS') : undefined),
      10_000,
      'the EDS inconsistency',
    );
    expect(line).toMatchObject({ level: 50, proxy: proxyId, type: 'EDS', referencedBy: 'custom-eds', missing: 'custom-eds-service' });
    expect(String(line!.msg)).toContain(`proxy ${proxyId}: EDS cluster custom-eds names load assignment "custom-eds-service"`);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references_total{type="EDS"}')).toBe(1);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references')).toBe(1);
  });

  it("logs and counts an RDS name a gateway's listener references and no Gateway server defines", async () => {
    gateway = new AdsTestClient(`127.0.0.1:${server.ports.xds}`, 'sotw', gatewayNode);
    gateway.request(TypeUrl.Listener);
    const listeners = await gateway.next(10_000);
    gateway.ack(listeners);
    expect(listeners.resources.map((r) => r.name)).toContain('custom-8443');
    const [line] = await eventually(
      () => (inconsistencies(logs, 'RDS').length > 0 ? inconsistencies(logs, 'RDS') : undefined),
      10_000,
      'the RDS inconsistency',
    );
    expect(line).toMatchObject({ level: 50, proxy: gatewayNode.id, type: 'RDS', referencedBy: 'custom-8443', missing: 'custom-gateway-routes' });
    expect(String(line!.msg)).toContain(`proxy ${gatewayNode.id}: listener custom-8443 names route configuration "custom-gateway-routes"`);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references_total{type="RDS"}')).toBe(1);
    expect(await metricValue(server, 'meshd_xds_inconsistent_references')).toBe(2);
    // Every other reference resolves: the sidecar's own cluster and the route configuration (9080) of its listener,
    // checked before the gateway's (checks run in the order the responses went out), are not reported.
    expect(inconsistencies(logs)).toHaveLength(2);
  });

  it('clears the unresolved count once the configuration is fixed, and reports the problem again when it comes back', async () => {
    await unlink(path.join(dir, 'filter.yaml'));
    await eventually(async () => (await metricValue(server, 'meshd_xds_inconsistent_references')) === 1, 10_000, 'the EDS reference resolved');
    expect(inconsistencies(logs)).toHaveLength(2);

    await writeFile(path.join(dir, 'filter.yaml'), customEdsCluster);
    await eventually(() => inconsistencies(logs, 'EDS').length === 2, 10_000, 'the EDS inconsistency logged again');
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
