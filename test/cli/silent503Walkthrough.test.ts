// The README's debugging walkthrough, for real: a silent 503 from a missing
// subset found with `meshctl analyze` and confirmed with `meshctl proxy-config cluster`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';
import { meshctl } from '../support/meshctl.js';
import { reviewsDestinationRuleV1, reviewsPodV1, reviewsService, reviewsVirtualService, yamlDocuments } from '../support/reviewsMesh.js';

const endpointSlice = `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: default, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
- addresses: ["10.1.0.7"]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: reviews-v1-abc, namespace: default}
`;
const mesh = yamlDocuments(reviewsService, reviewsPodV1, endpointSlice, reviewsDestinationRuleV1, reviewsVirtualService('v2'));

describe('finding a silent 503', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  let url: string;
  let client: AdsTestClient;
  const { logger, logs } = captureLogs('info');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-503-'));
    await writeFile(path.join(dir, 'mesh.yaml'), mesh);
    server = await serve({ ...loopbackConfig, configDir: dir, controlPlaneId: 'istiod-walkthrough' }, { logger });
    url = `http://127.0.0.1:${server.ports.http}`;
    await eventually(() => server.ready);
    client = new AdsTestClient(`127.0.0.1:${server.ports.xds}`, 'sotw', sidecarNode('productpage'));
    client.request(TypeUrl.Cluster);
    const cds = await client.next();
    client.ack(cds);
    const clusterNames = cds.resources.map((r) => r.name).filter((n) => n.startsWith('outbound|'));
    client.request(TypeUrl.ClusterLoadAssignment, { names: clusterNames });
    client.ack(await client.next(), clusterNames);
    client.request(TypeUrl.Listener);
    client.ack(await client.next());
    client.request(TypeUrl.RouteConfiguration, { names: ['9080'] });
    client.ack(await client.next(), ['9080']);
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('meshctl analyze names the VirtualService, the missing subset and the fix, and exits 1', async () => {
    const { code, stdout } = await meshctl(['--server', url, 'analyze']);
    expect(code).toBe(1);
    expect(stdout).toContain('Error [IST0101] (VirtualService default/reviews mesh.yaml:');
    expect(stdout).toContain('Referenced host+subset in destinationrule not found: "reviews+v2"');
    expect(stdout).toContain('fix: add subset "v2" to DestinationRule default/reviews');
    const offline = await meshctl(['analyze', '--config-dir', dir]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toContain('"reviews+v2"');
  });

  it('meshctl proxy-config cluster confirms: subset v1 has a cluster, v2 has none', async () => {
    const { code, stdout } = await meshctl(['--server', url, 'proxy-config', 'cluster', 'productpage.default']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE']);
    const reviews = lines.filter((l) => l.startsWith('reviews.default.svc.cluster.local')).map((l) => l.split(/\s{2,}/));
    expect(reviews).toContainEqual(['reviews.default.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS', 'reviews.default']);
    expect(reviews.some((r) => r[2] === 'v2')).toBe(false);
    const json = JSON.parse((await meshctl(['--server', url, 'proxy-config', 'cluster', 'productpage.default', '-o', 'json'])).stdout) as Array<{
      name: string;
    }>;
    expect(json.map((c) => c.name)).toContain('outbound|9080|v1|reviews.default.svc.cluster.local');
  });

  it('meshctl proxy-config listener, route, endpoint and secret print istioctl-style tables', async () => {
    const target = ['--server', url, 'proxy-config'];
    const listeners = (await meshctl([...target, 'listener', 'productpage.default'])).stdout;
    expect(listeners.split('\n')[0]!.split(/\s{2,}/)).toEqual(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION']);
    expect(listeners).toMatch(/0\.0\.0\.0\s+9080\s+.*Route: 9080/);
    const routes = (await meshctl([...target, 'route', 'productpage.default'])).stdout;
    expect(routes.split('\n')[0]!.split(/\s{2,}/)).toEqual(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE']);
    expect(routes).toMatch(/^9080\s+reviews\.default\.svc\.cluster\.local:9080\s+reviews.*\s\/\*\s+reviews\.default$/m);
    const endpoints = (await meshctl([...target, 'endpoint', 'productpage.default'])).stdout;
    expect(endpoints).toMatch(/^10\.1\.0\.7:9080\s+HEALTHY\s+OK\s+outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local$/m);
    const yaml = (await meshctl([...target, 'route', 'productpage.default', '-o', 'yaml'])).stdout;
    expect(yaml).toMatch(/^- "@type": type.googleapis.com\/envoy.config.route.v3.RouteConfiguration$/m);
    expect(yaml).toMatch(/^ {2}name: "?9080"?$/m);
    const secrets = await meshctl([...target, 'secret', 'productpage.default']);
    expect(secrets.code).toBe(0);
    expect(secrets.stdout.split('\n')[0]).toMatch(/^RESOURCE NAME\s+TYPE\s+SOURCE$/);
  });

  it('the server logs the message once and counts it in a gauge per code', async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/meshd_analysis_messages\{code="IST0101",level="Error"\} 1/);
    expect(metrics).toMatch(/meshd_analysis_messages\{code="IST0109",level="Error"\} 0/);
    // istiod's names, as Istio's control-plane dashboard queries them.
    expect(metrics).toMatch(/^pilot_services 1$/m);
    expect(metrics).toMatch(/^pilot_virt_services 1$/m);
    expect(metrics).toMatch(/^pilot_xds\{version="1.24.0"\} 1$/m);
    expect(metrics).toMatch(/^pilot_xds_pushes\{type="cds"\} \d+$/m);
    for (const name of [
      'pilot_xds_push_time_bucket',
      'pilot_proxy_convergence_time_bucket',
      'pilot_xds_config_size_bytes_bucket',
      'citadel_server_csr_count',
      'citadel_server_success_cert_issuance_count',
    ]) {
      expect(metrics).toContain(`${name}`);
    }
    await meshctl(['--server', url, 'analyze']);
    expect(logs.lines.filter((l) => String(l.msg).startsWith('analysis: Error [IST0101]'))).toHaveLength(1);
  });

  it('fixing the file clears the message without a restart', async () => {
    await writeFile(path.join(dir, 'mesh.yaml'), mesh.replace('subset: v2', 'subset: v1'));
    await eventually(async () => (await meshctl(['--server', url, 'analyze'])).code === 0, 10_000, 'analysis to clear');
    const { stdout } = await meshctl(['--server', url, 'analyze']);
    expect(stdout).toMatch(/No validation issues found/);
  });
});
