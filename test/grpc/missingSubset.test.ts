// A route to a subset no DestinationRule defines: gRPC fails those calls with
// UNAVAILABLE (the proxyless face of Envoy's 503), meshd raises IST0101 (what
// `meshctl analyze` reports), and the other routes keep working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoScenario, type EchoScenario } from '../support/grpcXdsScenario.js';
import { eventually, tally } from '../support/grpcXdsWorkloads.js';

let scenario: EchoScenario;

const to = (subset: string) => [{ destination: { host: 'echo', subset } }];
const missing = { metadata: { 'x-test': 'missing' } };

beforeAll(async () => {
  scenario = await startEchoScenario({ versions: ['v1', 'v2'], http: [{ route: to('v1') }] });
  await eventually(
    () => tally(scenario.client, 20),
    (t) => t.versions.v1 === 20,
    'the client to reach echo',
  );
  await scenario.route([{ match: [{ headers: { 'x-test': { exact: 'missing' } } }], route: to('v9') }, { route: to('v2') }]);
  await eventually(
    () => tally(scenario.client, 20),
    (t) => t.versions.v2 === 20,
    'the new routes to reach the client',
  );
});

afterAll(async () => {
  await scenario?.close();
});

describe('route to an undefined subset (grpc-js-xds client)', () => {
  it('fails calls on that route with UNAVAILABLE', async () => {
    // The client learns that cluster outbound|7070|v9|... does not exist when meshd's CDS answer lacks it
    // (or, at the latest, after gRPC's 15 s does-not-exist timer); until then calls wait, so each has a short deadline.
    const result = await eventually(
      () => tally(scenario.client, 10, 'echo', { ...missing, deadlineMs: 1_000 }),
      (t) => t.errors.UNAVAILABLE === 10,
      'calls to the undefined subset to fail with UNAVAILABLE',
      25_000,
    );
    expect(result.versions).toEqual({});
  }, 40_000);

  it('keeps the other routes working', async () => {
    const result = await tally(scenario.client, 50);
    expect(result.errors).toEqual({});
    expect(result.versions).toEqual({ v2: 50 });
  });

  it('raises IST0101, the message meshctl analyze shows', () => {
    const finding = scenario.mesh.logs.find((l) => l.code === 'IST0101' && l.subset === 'v9');
    expect(finding).toMatchObject({ level: 40, virtualService: 'default/echo', host: 'echo.default.svc.cluster.local', destinationRule: 'default/echo' });
    expect(String(finding?.msg)).toContain('subset "v9"');
  });
});
