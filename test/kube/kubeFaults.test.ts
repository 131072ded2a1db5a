// Issue 5, "Bad input and faults": each fault is injected into the fake API
// server while the real informers run against it; the source must end in
// exactly the server's state and never drop objects that still exist.
import { afterEach, describe, expect, it } from 'vitest';
import { MeshModel } from '../../src/model/meshModel.js';
import { KubeSource } from '../../src/sources/kube/kubeSource.js';
import type { FakeKubeApi, FakeKubeApiOptions } from '../support/fakeKubeApi.js';
import {
  RecordingSink,
  captureLogger,
  eventually,
  namespace,
  pod,
  service,
  serverSnapshot,
  virtualService,
  startFakeApi,
} from '../support/fakeKubeApiHelpers.js';
import { kindValidators } from '../../src/security/validation.js';

const fastBackoff = { initialMs: 20, maxMs: 200 };
const mirroredKinds = ['Namespace', 'Service', 'Pod', 'VirtualService'];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const startApi = (options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> => startFakeApi(cleanups, options);

function newSource(api: FakeKubeApi, requestTimeoutMs = 2_000, watchIdleTimeoutMs = 60_000) {
  const log = captureLogger();
  // No grace for 403s here: a refusal is reported as missing RBAC at once (transientForbidden.test.ts covers the grace).
  const source = new KubeSource({
    kubeConfig: api.kubeConfig(),
    logger: log.logger,
    backoff: fastBackoff,
    requestTimeoutMs,
    watchIdleTimeoutMs,
    forbiddenGraceMs: 0,
  });
  cleanups.push(() => source.stop());
  return { source, log };
}

function seed(api: FakeKubeApi): void {
  api.apply(namespace('shop'));
  api.apply(service('shop', 'cart'));
  api.apply(service('shop', 'checkout'));
  api.apply(pod('shop', 'cart-1', { app: 'cart' }, '10.0.0.5'));
  api.apply(virtualService('shop', 'cart', 'cart.shop.svc.cluster.local'));
}

/** Deletes the sink saw for objects the server still has: a consumer would have lost good config. */
function spuriousDeletes(api: FakeKubeApi, sink: RecordingSink): string[] {
  return sink.events
    .filter((e) => e.type === 'delete')
    .map((e) => (e.type === 'delete' ? e.ref : undefined)!)
    .filter((ref) => mirroredKinds.includes(ref.kind) && api.get(ref.kind, ref.namespace, ref.name) !== undefined)
    .map((ref) => `${ref.kind}/${ref.namespace}/${ref.name}`);
}

describe('Kubernetes source under faults', () => {
  it('keeps retrying while the API server is unreachable at start, stays unsynced, and syncs once it appears', async () => {
    const api = await startApi();
    seed(api);
    await api.refuseConnections();
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    let startResolved = false;
    void source.start(sink.sink).then(() => (startResolved = true));
    // Several failed attempts, with growing delays, and nothing delivered.
    await eventually(() => log.lines.filter((l) => /discovery failed/.test(String(l.msg))).length >= 3, 'repeated discovery retries');
    const retries = log.lines.filter((l) => /discovery failed/.test(String(l.msg)));
    expect(retries[0]!.err).toMatch(/ECONNREFUSED/);
    expect(source.synced).toBe(false);
    expect(startResolved).toBe(false);
    expect(sink.events).toHaveLength(0);

    await api.acceptConnections();
    await eventually(() => source.synced, 'synced after the API server appeared');
    await eventually(() => startResolved, 'start() resolved');
    expect(sink.snapshot()).toEqual(serverSnapshot(api, mirroredKinds));
  });

  it('keeps the last state through an API server outage after sync, then converges', async () => {
    const api = await startApi();
    seed(api);
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    await source.start(sink.sink);
    const before = sink.snapshot();
    await api.refuseConnections();
    // Changes land while meshd cannot see them.
    api.apply(service('shop', 'during-outage'));
    api.remove('Service', 'shop', 'checkout');
    await eventually(() => log.lines.filter((l) => /ECONNREFUSED/.test(String(l.err))).length >= 3, 'reconnect attempts');
    expect(sink.snapshot()).toEqual(before);
    expect(source.synced).toBe(true);
    await api.acceptConnections();
    await eventually(() => JSON.stringify(sink.snapshot()) === JSON.stringify(serverSnapshot(api, mirroredKinds)), 'state equal to the server');
    expect(spuriousDeletes(api, sink)).toEqual([]);
  });

  it('loses no event when watches are dropped mid-stream, and never deletes what still exists', async () => {
    const api = await startApi();
    seed(api);
    const sink = new RecordingSink();
    const { source } = newSource(api);
    await source.start(sink.sink);
    for (let round = 0; round < 5; round++) {
      api.apply(service('shop', `svc-${round}`));
      api.dropWatches();
      api.apply({ ...service('shop', 'cart', 9000 + round) });
      if (round % 2 === 1) api.remove('Service', 'shop', `svc-${round - 1}`);
      api.dropWatches();
    }
    await eventually(() => JSON.stringify(sink.snapshot()) === JSON.stringify(serverSnapshot(api, mirroredKinds)), 'state equal to the server');
    expect(spuriousDeletes(api, sink)).toEqual([]);
    expect(sink.has('Service', 'shop', 'svc-0')).toBe(false);
    expect(sink.has('Service', 'shop', 'svc-4')).toBe(true);
  });

  it('relists after 410 Gone and reconciles the deletions it missed', async () => {
    const api = await startApi();
    seed(api);
    const sink = new RecordingSink();
    const { source } = newSource(api);
    await source.start(sink.sink);
    const serviceLists = () => api.requests.filter((r) => r.path === '/api/v1/services' && !r.query.includes('watch=')).length;
    const listsBefore = serviceLists();
    // While the client cannot watch, a service goes away and another appears; then history is compacted.
    api.failNext(1_000, 503, (_method, path) => path === '/api/v1/services');
    api.dropWatches();
    api.remove('Service', 'shop', 'checkout');
    api.apply(service('shop', 'payments'));
    api.compact();
    api.clearFaults();
    await eventually(() => !sink.has('Service', 'shop', 'checkout') && sink.has('Service', 'shop', 'payments'), 'missed delete reconciled');
    expect(serviceLists()).toBeGreaterThan(listsBefore);
    expect(sink.events).toContainEqual({ type: 'delete', ref: { kind: 'Service', namespace: 'shop', name: 'checkout' } });
    expect(sink.snapshot()).toEqual(serverSnapshot(api, mirroredKinds));
    expect(spuriousDeletes(api, sink)).toEqual([]);
  });

  it('relists on a watch ERROR event with code 410 and on an HTTP 410 answer to a watch', async () => {
    const api = await startApi();
    seed(api);
    const sink = new RecordingSink();
    const { source } = newSource(api);
    await source.start(sink.sink);
    api.expireWatches();
    api.apply(service('shop', 'after-expiry'));
    await eventually(() => sink.has('Service', 'shop', 'after-expiry'), 'event after ERROR 410');
    api.goneNextWatches(20);
    api.dropWatches();
    api.remove('Service', 'shop', 'after-expiry');
    await eventually(() => !sink.has('Service', 'shop', 'after-expiry'), 'delete after HTTP 410');
    await eventually(() => JSON.stringify(sink.snapshot()) === JSON.stringify(serverSnapshot(api, mirroredKinds)), 'state equal to the server');
    expect(spuriousDeletes(api, sink)).toEqual([]);
  });

  it('rides out bursts of 5xx answers on lists and watches with backoff', async () => {
    const api = await startApi();
    seed(api);
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    // The first answers (discovery, then the first lists) fail.
    api.failNext(8, 500);
    await source.start(sink.sink);
    expect(log.lines.some((l) => /HTTP 500/.test(String(l.err)))).toBe(true);
    expect(sink.snapshot()).toEqual(serverSnapshot(api, mirroredKinds));
    api.failNext(25, 502);
    api.dropWatches();
    api.apply(service('shop', 'during-burst'));
    api.remove('Pod', 'shop', 'cart-1');
    await eventually(() => JSON.stringify(sink.snapshot()) === JSON.stringify(serverSnapshot(api, mirroredKinds)), 'state equal to the server');
    expect(log.lines.some((l) => l.statusCode === 502 || /HTTP 502/.test(String(l.err)))).toBe(true);
    expect(spuriousDeletes(api, sink)).toEqual([]);
  });

  it('copes with a slow API server, and with one slower than the request deadline once it speeds up', async () => {
    const api = await startApi();
    seed(api);
    api.setLatency(150);
    const sink = new RecordingSink();
    const { source } = newSource(api, 2_000);
    await source.start(sink.sink);
    expect(sink.snapshot()).toEqual(serverSnapshot(api, mirroredKinds));

    const slowApi = await startApi();
    seed(slowApi);
    slowApi.setLatency(1_500);
    const slowSink = new RecordingSink();
    const slow = newSource(slowApi, 300);
    void slow.source.start(slowSink.sink);
    await eventually(() => slow.log.lines.some((l) => /timed out/.test(String(l.err))), 'a request deadline hit');
    expect(slow.source.synced).toBe(false);
    slowApi.setLatency(0);
    await eventually(() => slow.source.synced, 'synced once the server answers in time');
    expect(slowSink.snapshot()).toEqual(serverSnapshot(slowApi, mirroredKinds));
  });

  it('reopens a watch that went silent (half-open connection) and catches up', async () => {
    const api = await startApi({ bookmarkIntervalMs: 50 });
    seed(api);
    const sink = new RecordingSink();
    const { source, log } = newSource(api, 2_000, 400);
    await source.start(sink.sink);
    const serviceWatches = () => api.requests.filter((r) => r.path === '/api/v1/services' && r.query.includes('watch=true')).length;
    const before = serviceWatches();
    api.stallWatches(true);
    api.apply(service('shop', 'while-stalled'));
    await eventually(() => serviceWatches() >= before + 2, 'silent watches reopened');
    expect(log.lines.some((l) => /carried nothing/.test(String(l.err)))).toBe(true);
    expect(sink.has('Service', 'shop', 'while-stalled')).toBe(false);
    api.stallWatches(false);
    await eventually(() => sink.has('Service', 'shop', 'while-stalled'), 'caught up after the stall');
    expect(sink.snapshot()).toEqual(serverSnapshot(api, mirroredKinds));
  });

  it('keeps delivering other kinds when Namespaces and ConfigMaps themselves are forbidden', async () => {
    const api = await startApi();
    seed(api);
    api.forbid('namespaces');
    api.forbid('configmaps');
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    void source.start(sink.sink);
    await eventually(() => sink.has('Service', 'shop', 'cart') && sink.has('VirtualService', 'shop', 'cart'), 'other kinds delivered');
    expect(
      log.lines
        .filter((l) => l.level === 50)
        .map((l) => l.kind)
        .sort(),
    ).toEqual(['ConfigMap', 'Namespace']);
    expect(source.synced).toBe(false);
    api.allow('namespaces');
    api.allow('configmaps');
    await eventually(() => source.synced, 'synced once allowed');
    expect(sink.has('Namespace', '', 'shop')).toBe(true);
  });

  it('logs a forbidden kind with the missing permission, keeps the other kinds flowing, and syncs once allowed', async () => {
    const api = await startApi();
    seed(api);
    api.apply({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'deny-all', namespace: 'shop' },
      spec: {},
    });
    api.forbid('authorizationpolicies', 'security.istio.io');
    const sink = new RecordingSink();
    const { source, log } = newSource(api);
    void source.start(sink.sink);
    const line = await eventually(() => log.lines.find((l) => l.kind === 'AuthorizationPolicy' && l.level === 50), 'forbidden log line');
    expect(line.msg).toContain('authorizationpolicies.security.istio.io');
    expect(line.missingPermission).toBe('list authorizationpolicies.security.istio.io');
    // Logged once per forbidden streak, not once per retry.
    await eventually(() => api.requests.filter((r) => r.path.endsWith('/authorizationpolicies')).length >= 3, 'retries');
    expect(log.lines.filter((l) => l.kind === 'AuthorizationPolicy' && l.level === 50)).toHaveLength(1);
    // Every other kind is delivered and keeps updating.
    await eventually(() => sink.has('VirtualService', 'shop', 'cart'), 'other kinds delivered');
    api.apply(service('shop', 'new'));
    await eventually(() => sink.has('Service', 'shop', 'new'), 'other kinds keep updating');
    expect(source.synced).toBe(false);
    expect(source.status().find((s) => s.kind === 'AuthorizationPolicy')).toMatchObject({ synced: false, forbidden: true });

    api.allow('authorizationpolicies', 'security.istio.io');
    await eventually(() => source.synced, 'synced once permission is granted');
    expect(sink.has('AuthorizationPolicy', 'shop', 'deny-all')).toBe(true);
  });

  it('feeds an invalid Istio object to the model, which rejects it while the rest flows', async () => {
    const api = await startApi();
    seed(api);
    api.apply({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'broken', namespace: 'shop' }, spec: { hosts: [] } });
    const modelLog = captureLogger();
    const model = new MeshModel({ logger: modelLog.logger, validators: kindValidators });
    const { source } = newSource(api);
    await source.start((events) => void model.apply(events));
    expect(model.get('VirtualService', 'shop', 'cart')).toBeDefined();
    expect(model.get('Service', 'shop', 'checkout')).toBeDefined();
    expect(model.get('VirtualService', 'shop', 'broken')).toBeUndefined();
    expect(model.currentRejections()).toContainEqual(expect.objectContaining({ kind: 'VirtualService', namespace: 'shop', name: 'broken' }));
    api.apply(virtualService('shop', 'later', 'later.shop.svc.cluster.local'));
    await eventually(() => model.get('VirtualService', 'shop', 'later'), 'later objects still flow');
  });
});
