// A 403 that passes (an API server that just started refuses requests until
// its RBAC cache is loaded) is a warning with its retry, not the "grant
// meshd's service account ..." error; whatever succeeds next (a watch as much
// as a list) logs the recovery; /ready answers 503 while a kind is refused and
// 200 again once access is back, as the README says. Only the fake API server
// can refuse a watch after a successful list.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeSource } from '../../src/sources/kube/kubeSource.js';
import type { FakeKubeApi } from '../support/fakeKubeApi.js';
import { RecordingSink, captureLogger, eventually, istioCaSecret, namespace, service, startFakeApi } from '../support/fakeKubeApiHelpers.js';
import { serveKubeMode } from '../support/meshdHarness.js';

const fastBackoff = { initialMs: 20, maxMs: 200 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function seededApi(): Promise<FakeKubeApi> {
  const api = await startFakeApi(cleanups);
  api.apply(namespace('istio-system'));
  api.apply(namespace('shop'));
  api.apply(service('shop', 'cart'));
  return api;
}

function newSource(api: FakeKubeApi, forbiddenGraceMs?: number) {
  const log = captureLogger();
  const source = new KubeSource({
    kubeConfig: api.kubeConfig(),
    logger: log.logger,
    backoff: fastBackoff,
    requestTimeoutMs: 2_000,
    ...(forbiddenGraceMs === undefined ? {} : { forbiddenGraceMs }),
  });
  cleanups.push(() => source.stop());
  return { source, log };
}

const serviceRequests = (api: FakeKubeApi, watch: boolean) =>
  api.requests.filter((r) => r.path === '/api/v1/services' && r.query.includes('watch=true') === watch);

describe('a 403 while the API server warms up', () => {
  it('is a warning with its retry; the watch that then succeeds logs "access restored" and ends the refusal', async () => {
    const api = await seededApi();
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    await source.start(sink.sink);
    const lists = serviceRequests(api, false).length;

    // The watch is cut and its retries are refused.
    api.forbid('services');
    api.dropWatches();
    await eventually(() => serviceRequests(api, true).filter((r) => r.status === 403).length >= 3, 'refused watch retries');
    const warnings = log.lines.filter((l) => l.kind === 'Service' && l.level === 40 && l.verb === 'watch');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]).toMatchObject({ missingPermission: 'watch services', retryInMs: expect.any(Number) });
    expect(log.lines.filter((l) => l.level === 50)).toEqual([]);
    expect(source.notReadyReason()).toContain('services');

    api.allow('services');
    await eventually(() => log.lines.find((l) => l.msg === 'access to services restored'), 'recovery logged');
    // Recovered by the watch alone: no list was needed.
    expect(serviceRequests(api, false)).toHaveLength(lists);
    expect(source.status().find((s) => s.kind === 'Service')).toMatchObject({ forbidden: false, synced: true });
    expect(source.status().find((s) => s.kind === 'Service')?.error).toBeUndefined();
    expect(source.notReadyReason()).toBeUndefined();
    api.apply(service('shop', 'after'));
    await eventually(() => sink.has('Service', 'shop', 'after'), 'services flow again');
  });

  it('becomes one error naming the missing permission once it outlasts the grace period', async () => {
    const api = await seededApi();
    api.forbid('services');
    const { source, log } = newSource(api, 300);
    void source.start(new RecordingSink().sink);
    const error = await eventually(() => log.lines.find((l) => l.kind === 'Service' && l.level === 50), 'error after the grace period');
    expect(error).toMatchObject({ missingPermission: 'list services' });
    expect(error.msg).toContain("grant meshd's service account");
    expect(Number(error.forbiddenForMs)).toBeGreaterThanOrEqual(300);
    const forbiddenLines = log.lines.filter((l) => l.kind === 'Service' && (l.level === 40 || l.level === 50));
    expect(forbiddenLines[0]?.level).toBe(40);
    // Retries go on; the error is not repeated.
    const count = serviceRequests(api, false).length;
    await eventually(() => serviceRequests(api, false).length >= count + 3, 'more retries');
    expect(log.lines.filter((l) => l.kind === 'Service' && l.level === 50)).toHaveLength(1);
    api.allow('services');
    await eventually(() => source.synced, 'synced once allowed');
    expect(log.lines.some((l) => l.msg === 'access to services restored')).toBe(true);
  });

  it('makes /ready answer 503 while a synced kind is refused, and 200 once access is back', async () => {
    const api = await seededApi();
    api.apply(istioCaSecret());
    const meshd = await serveKubeMode(api, cleanups, { logger: captureLogger('warn').logger, config: { controlPlaneId: 'istiod-a' } });
    const ready = async (): Promise<{ status: number; text: string }> => {
      const res = await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`, { signal: AbortSignal.timeout(2_000) });
      return { status: res.status, text: await res.text() };
    };
    await eventually(async () => (await ready()).status === 200, '/ready 200', 20_000);

    api.forbid('services');
    api.dropWatches();
    const refused = await eventually(
      async () => {
        const answer = await ready();
        return answer.status === 503 ? answer : undefined;
      },
      '/ready 503 while services are refused',
      10_000,
    );
    expect(refused.text).toContain('services');

    api.allow('services');
    await eventually(async () => (await ready()).status === 200, '/ready 200 once access is back', 20_000);
  }, 40_000);
});
