// Fault injection, retries and timeouts from a VirtualService, and circuit
// breaking from a DestinationRule, as a real grpc-js-xds client applies them
// to real calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destinationRuleObject, virtualServiceObject } from '../../src/demo/mesh.js';
import { echo, startEchoScenario, type EchoScenario } from '../support/grpcXdsScenario.js';
import type { EchoOutcome } from '../../src/demo/echo.js';
import { eventually, tally, tallyOf, type Tally } from '../support/grpcXdsWorkloads.js';

let scenario: EchoScenario;

const when = (test: string) => [{ headers: { 'x-test': { exact: test } } }];
const to = (subset: string) => [{ destination: { host: 'echo', subset } }];
const header = (test: string) => ({ metadata: { 'x-test': test } });

beforeAll(async () => {
  scenario = await startEchoScenario({
    // echo-v3 fails every second call with UNAVAILABLE: a flaky backend.
    failEvery: { 'echo-v3': 2 },
    http: [
      { match: when('abort'), fault: { abort: { grpcStatus: 'RESOURCE_EXHAUSTED', percentage: { value: 30 } } }, route: to('v1') },
      { match: when('abort-503'), fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: to('v1') },
      { match: when('delay'), fault: { delay: { fixedDelay: '300ms', percentage: { value: 100 } } }, route: to('v1') },
      { match: when('no-retry'), retries: { attempts: 0 }, route: to('v3') },
      { match: when('retry'), retries: { attempts: 3, retryOn: 'unavailable' }, route: to('v3') },
      { match: when('slow'), timeout: '200ms', route: to('v1') },
      { route: to('v2') },
    ],
  });
  await eventually(
    () => tally(scenario.client, 20),
    (t) => t.versions.v2 === 20,
    'the client to reach echo',
  );
});

afterAll(async () => {
  await scenario?.close();
});

describe('fault injection (grpc-js-xds client)', () => {
  it('aborts about the configured share of calls with the configured gRPC status', async () => {
    const result = await tally(scenario.client, 1000, 'echo', header('abort'));
    // Aborts ~ Binomial(1000, 0.3): mean 300, sd 14.5; 5 sigma (±73) keeps false failures below 1e-6.
    expect(Object.keys(result.errors)).toEqual(['RESOURCE_EXHAUSTED']);
    expect(result.errors.RESOURCE_EXHAUSTED).toBeGreaterThanOrEqual(227);
    expect(result.errors.RESOURCE_EXHAUSTED).toBeLessThanOrEqual(373);
    expect(result.versions.v1).toBe(1000 - result.errors.RESOURCE_EXHAUSTED!);
  });

  it('turns an HTTP 503 abort into UNAVAILABLE', async () => {
    const result = await tally(scenario.client, 20, 'echo', header('abort-503'));
    expect(result.errors).toEqual({ UNAVAILABLE: 20 });
  });

  it('adds the configured delay', async () => {
    const started = Date.now();
    const result = await tally(scenario.client, 8, 'echo', header('delay'), 1);
    const perCall = (Date.now() - started) / 8;
    expect(result.versions).toEqual({ v1: 8 });
    // A lower bound only: each call waits at least the 300 ms fixed delay (1 ms timer slack).
    expect(perCall).toBeGreaterThanOrEqual(299);
  });
});

describe('retries and timeouts (grpc-js-xds client)', () => {
  it('shows the flaky backend failing half the calls without retries', async () => {
    // Sequential calls: the backend's counter alternates success and failure exactly.
    const result = await tally(scenario.client, 40, 'echo', header('no-retry'), 1);
    expect(result.errors).toEqual({ UNAVAILABLE: 20 });
    expect(result.versions).toEqual({ v3: 20 });
  });

  it('hides the flaky backend when the route retries on unavailable', async () => {
    const result = await tally(scenario.client, 40, 'echo', header('retry'), 1);
    expect(result.errors).toEqual({});
    expect(result.versions).toEqual({ v3: 40 });
    expect(scenario.servers.find((s) => s.pod === 'echo-v3')!.calls).toBeGreaterThanOrEqual(40 + 40 + 20);
  });

  it('fails a call that outlives the route timeout with DEADLINE_EXCEEDED', async () => {
    const result = await tally(scenario.client, 5, 'echo', { ...header('slow'), request: { sleepMs: 3000 } });
    expect(result.errors).toEqual({ DEADLINE_EXCEEDED: 5 });
  });

  it('lets the same slow call succeed on a route without a timeout', async () => {
    const result = await tally(scenario.client, 3, 'echo', { request: { sleepMs: 400 } });
    expect(result.versions).toEqual({ v2: 3 });
  });
});

describe('circuit breaking (grpc-js-xds client)', () => {
  /**
   * Ten slow calls (1.5 s) started 100 ms apart, so each earlier call is surely in
   * flight when the next one is picked (grpc-js counts a call once it starts).
   */
  const staggeredBurst = async (): Promise<Tally> => {
    const calls: Promise<EchoOutcome>[] = [];
    for (let i = 0; i < 10; i++) {
      calls.push(scenario.client.call('echo', { request: { sleepMs: 1500 } }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return tallyOf(await Promise.all(calls));
  };

  it('lets 10 concurrent slow calls through without a limit', async () => {
    expect((await staggeredBurst()).versions).toEqual({ v2: 10 });
  });

  it('fails calls beyond http2MaxRequests with UNAVAILABLE', async () => {
    const dr = destinationRuleObject(echo, ['v1', 'v2', 'v3']);
    (dr.spec as Record<string, unknown>).trafficPolicy = { connectionPool: { http: { http2MaxRequests: 2 } } };
    await scenario.mesh.write('routing.yaml', [dr, virtualServiceObject(echo, [{ route: [{ destination: { host: 'echo', subset: 'v2' } }] }])]);
    await eventually(staggeredBurst, (t) => (t.errors.UNAVAILABLE ?? 0) > 0, 'the circuit breaker to reach the client');
    // A burst after the config arrived: the limit holds exactly.
    const result = await staggeredBurst();
    expect(result.versions).toEqual({ v2: 2 });
    expect(result.errors).toEqual({ UNAVAILABLE: 8 });
  });
});
