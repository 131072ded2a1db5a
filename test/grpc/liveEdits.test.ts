// Editing the config directory while traffic flows moves that traffic, with
// no restart of meshd, the client or the servers: weights, subset labels on
// pods, and endpoints added and removed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../../src/demo/echo.js';
import { podLabels, weightedRoute, type EchoWorkload } from '../../src/demo/mesh.js';
import { proxylessNodeId } from '../../src/demo/bootstrap.js';
import { freePort } from '../support/grpcXdsMesh.js';
import { echo, meshObjects, startEchoScenario, type EchoScenario } from '../support/grpcXdsScenario.js';
import { eventually, startTraffic, tally, trafficSettles, withDeadline, type Traffic } from '../support/grpcXdsWorkloads.js';

let scenario: EchoScenario;
let traffic: Traffic;
const extraServers: EchoServer[] = [];
const clientId = proxylessNodeId({ pod: 'client', namespace: 'default', ip: '127.0.0.2' });

beforeAll(async () => {
  scenario = await startEchoScenario({ versions: ['v1', 'v2'], http: [weightedRoute(echo, { v1: 100 })] });
  await eventually(
    () => tally(scenario.client, 20),
    (t) => t.versions.v1 === 20,
    'the client to reach echo',
  );
  traffic = startTraffic(scenario.client);
});

afterAll(async () => {
  await traffic?.stop();
  await Promise.all(extraServers.map((s) => s.close()));
  await scenario?.close();
});

describe('live edits under traffic (grpc-js-xds client)', () => {
  it('shifts traffic when a weight changes', async () => {
    await scenario.route([weightedRoute(echo, { v1: 0, v2: 100 })]);
    const settled = await trafficSettles(traffic, (t) => t.versions.v2 === t.total, 'all traffic to move to v2');
    expect(settled.errors).toEqual({});
  });

  it('moves a pod between subsets when its labels change', async () => {
    // Relabel pod echo-v1 as version v2: subset v2 now selects both pods.
    const relabelled = scenario.workloads.map((w) => (w.pod === 'echo-v1' ? { ...w, version: 'v2' } : w));
    await scenario.mesh.write('mesh.yaml', meshObjects(relabelled));
    const settled = await trafficSettles(traffic, (t) => (t.pods['echo-v1'] ?? 0) > 0 && (t.pods['echo-v2'] ?? 0) > 0, 'subset v2 to include echo-v1');
    expect(settled.errors).toEqual({});
    await scenario.mesh.write('mesh.yaml', meshObjects(scenario.workloads));
    await trafficSettles(traffic, (t) => t.pods['echo-v2'] === t.total, 'echo-v1 to leave subset v2 again');
  });

  it('adds and removes endpoints', async () => {
    const added: EchoWorkload = { pod: 'echo-v2b', version: 'v2', port: await freePort() };
    await scenario.mesh.write('mesh.yaml', meshObjects([...scenario.workloads, added]));
    // An xDS server gets its listener from the endpoints meshd knows: start it once the client was sent the endpoint.
    await eventually(
      async () => JSON.stringify(await scenario.mesh.configDump(clientId)),
      (dump) => dump.includes(`"portValue":${added.port}`),
      'meshd to send the new endpoint to the client',
    );
    extraServers.push(
      await withDeadline(
        startEchoServer({
          address: `127.0.0.1:${added.port}`,
          pod: added.pod,
          version: added.version,
          bootstrap: scenario.mesh.bootstrap({ pod: added.pod, namespace: echo.namespace, ip: '127.0.0.1', labels: podLabels(echo, added) }),
        }),
        20_000,
        'the added echo server to serve',
      ),
    );
    await trafficSettles(traffic, (t) => (t.pods['echo-v2b'] ?? 0) > 0 && (t.pods['echo-v2'] ?? 0) > 0, 'traffic to reach the added pod');

    const withoutV2 = [...scenario.workloads.filter((w) => w.pod !== 'echo-v2'), added];
    await scenario.mesh.write('mesh.yaml', meshObjects(withoutV2));
    const settled = await trafficSettles(traffic, (t) => t.pods['echo-v2b'] === t.total, 'traffic to leave the removed pod');
    expect(settled.errors).toEqual({});
  });

  it('never failed a call during all these edits', async () => {
    const all = await traffic.stop();
    expect(all.total).toBeGreaterThan(200);
    expect(all.errors).toEqual({});
  });
});
