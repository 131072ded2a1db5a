// Routing as users configure it, proven with real grpc-js-xds traffic:
// weighted splits, and header / uri-prefix / method matches in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightedRoute } from '../../src/demo/mesh.js';
import { echo, startEchoScenario, type EchoScenario } from '../support/grpcXdsScenario.js';
import { eventually, tally, type Tally } from '../support/grpcXdsWorkloads.js';

let scenario: EchoScenario;

beforeAll(async () => {
  scenario = await startEchoScenario({ http: [weightedRoute(echo, { v1: 90, v2: 10 })] });
  // The first calls may wait for the client's initial xDS fetch; wait until traffic flows.
  await eventually(
    () => tally(scenario.client, 20),
    (t) => t.total === 20 && Object.keys(t.errors).length === 0,
    'the client to reach echo',
  );
});

afterAll(async () => {
  await scenario?.close();
});

const to = (subset: string) => [{ destination: { host: 'echo', subset } }];
const only = (version: string) => (t: Tally) => t.versions[version] === t.total && t.total > 0;

describe('weighted split (grpc-js-xds client)', () => {
  it('sends about 90% to v1 and 10% to v2 over 2,000 calls', async () => {
    const result = await tally(scenario.client, 2000);
    expect(result.errors).toEqual({});
    expect(Object.keys(result.versions).sort()).toEqual(['v1', 'v2']);
    // v2 ~ Binomial(2000, 0.1): mean 200, sd 13.4; 5 sigma (±67) gives a false-failure chance below 1e-6.
    expect(result.versions.v2).toBeGreaterThanOrEqual(133);
    expect(result.versions.v2).toBeLessThanOrEqual(267);
    expect(result.versions.v1! + result.versions.v2!).toBe(2000);
  });
});

describe('matches (grpc-js-xds client)', () => {
  beforeAll(async () => {
    await scenario.route([
      { name: 'by-header', match: [{ headers: { 'x-version': { exact: 'v2' } } }], route: to('v2') },
      { name: 'admin-service', match: [{ uri: { prefix: '/meshd.demo.Admin/' } }], route: to('v3') },
      { name: 'ping-method', match: [{ uri: { exact: '/meshd.demo.Echo/Ping' } }], route: to('v2') },
      { name: 'default', route: to('v1') },
    ]);
    // Under the previous split Admin/Status never reaches v3; under the new rules it always does.
    await eventually(() => tally(scenario.client, 20, 'status'), only('v3'), 'the match rules to reach the client');
  });

  it('routes a header match to its subset', async () => {
    expect((await tally(scenario.client, 30, 'echo', { metadata: { 'x-version': 'v2' } })).versions).toEqual({ v2: 30 });
  });

  it('routes a uri-prefix (gRPC service) match to its subset', async () => {
    expect((await tally(scenario.client, 30, 'status')).versions).toEqual({ v3: 30 });
  });

  it('routes an exact method match to its subset', async () => {
    expect((await tally(scenario.client, 30, 'ping')).versions).toEqual({ v2: 30 });
  });

  it('lets the first matching rule win', async () => {
    // Admin/Status with the header matches both `by-header` (v2) and `admin-service` (v3); the first wins.
    expect((await tally(scenario.client, 30, 'status', { metadata: { 'x-version': 'v2' } })).versions).toEqual({ v2: 30 });
  });

  it('sends everything else to the default route', async () => {
    const result = await tally(scenario.client, 30, 'echo', { metadata: { 'x-version': 'v9' } });
    expect(result.versions).toEqual({ v1: 30 });
  });
});
