// Lease-based leader election between replicas, through the fake API
// server's Leases (resourceVersion optimistic concurrency, 409 on conflict).
import { afterEach, describe, expect, it } from 'vitest';
import { KubeHttp } from '../../src/sources/kube/kubeHttp.js';
import { LeaseLeaderElector, microTime } from '../../src/sources/kube/leaderElection.js';
import type { FakeKubeApi } from '../support/fakeKubeApi.js';
import { captureLogger, eventually, startFakeApi } from '../support/fakeKubeApiHelpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Replica {
  elector: LeaseLeaderElector;
  transitions: string[];
}

function replica(api: FakeKubeApi, identity: string, overrides: { leaseDurationMs?: number } = {}): Replica {
  const transitions: string[] = [];
  const elector = new LeaseLeaderElector({
    http: new KubeHttp(api.kubeConfig(), { requestTimeoutMs: 1_000 }),
    logger: captureLogger().logger,
    namespace: 'istio-system',
    identity,
    leaseDurationMs: overrides.leaseDurationMs ?? 1_000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    onStartedLeading: () => void transitions.push('started'),
    onStoppedLeading: () => void transitions.push('stopped'),
  });
  cleanups.push(() => elector.stop({ release: false }));
  return { elector, transitions };
}

const startApi = (): Promise<FakeKubeApi> => startFakeApi(cleanups);

describe('LeaseLeaderElector', () => {
  it('elects exactly one of several replicas and records it in the istio-leader Lease', async () => {
    const api = await startApi();
    const replicas = ['istiod-a', 'istiod-b', 'istiod-c'].map((id) => replica(api, id));
    for (const r of replicas) r.elector.start();
    const leader = await eventually(() => replicas.find((r) => r.elector.isLeader), 'a leader');
    // Several renewals later there is still exactly one leader.
    const renewTime = () => api.get('Lease', 'istio-system', 'istio-leader')?.spec as { renewTime?: string } | undefined;
    const firstRenew = renewTime()?.renewTime;
    await eventually(() => renewTime()?.renewTime !== firstRenew, 'a renewal');
    expect(replicas.filter((r) => r.elector.isLeader)).toEqual([leader]);
    const lease = api.get('Lease', 'istio-system', 'istio-leader')!;
    expect(lease.apiVersion).toBe('coordination.k8s.io/v1');
    expect(lease.spec).toMatchObject({ holderIdentity: leader.elector.identity, leaseDurationSeconds: 1 });
    expect((lease.spec as { renewTime: string }).renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(leader.transitions).toEqual(['started']);
  });

  it('hands over when the holder stops renewing, after the lease duration', async () => {
    const api = await startApi();
    const a = replica(api, 'istiod-a');
    a.elector.start();
    await eventually(() => a.elector.isLeader, 'a leads');
    const b = replica(api, 'istiod-b');
    b.elector.start();
    // a dies without releasing: b must wait for the lease to expire, then take it.
    const diedAt = Date.now();
    await a.elector.stop({ release: false });
    await eventually(() => b.elector.isLeader, 'b takes over', 5_000);
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(900);
    const lease = api.get('Lease', 'istio-system', 'istio-leader')!;
    expect(lease.spec).toMatchObject({ holderIdentity: 'istiod-b', leaseTransitions: 1 });
    expect(a.transitions).toEqual(['started', 'stopped']);
    expect(b.transitions).toEqual(['started']);
  });

  it('hands over at once when the leader releases the lease on a clean stop', async () => {
    const api = await startApi();
    const a = replica(api, 'istiod-a', { leaseDurationMs: 20_000 });
    a.elector.start();
    await eventually(() => a.elector.isLeader, 'a leads');
    const b = replica(api, 'istiod-b', { leaseDurationMs: 20_000 });
    b.elector.start();
    await a.elector.stop();
    // Far sooner than the 20 s lease: the released lease is free.
    await eventually(() => b.elector.isLeader, 'b takes the released lease', 3_000);
  });

  it('does not take a lease another holder keeps renewing, and loses leadership when it cannot renew', async () => {
    const api = await startApi();
    const now = Date.now();
    api.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-leader', namespace: 'istio-system' },
      spec: { holderIdentity: 'istiod-elsewhere', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now), leaseTransitions: 4 },
    });
    const candidate = replica(api, 'istiod-a');
    candidate.elector.start();
    // The other holder renews (each write changes the record) for a while: the candidate stays out.
    for (let i = 0; i < 8; i++) {
      const lease = api.get('Lease', 'istio-system', 'istio-leader')!;
      api.apply({ ...lease, spec: { ...(lease.spec as object), renewTime: microTime(Date.now()) } });
      const polls = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/leases/istio-leader')).length;
      await eventually(() => api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/leases/istio-leader')).length > polls, 'candidate polled');
      expect(candidate.elector.isLeader).toBe(false);
    }
    // The holder goes quiet: the candidate takes over and counts a transition.
    await eventually(() => candidate.elector.isLeader, 'candidate leads', 5_000);
    expect(api.get('Lease', 'istio-system', 'istio-leader')!.spec).toMatchObject({ holderIdentity: 'istiod-a', leaseTransitions: 5 });

    // Every lease write now fails: past the renew deadline it steps down.
    api.failNext(1_000, 500, (_method, path) => path.endsWith('/leases/istio-leader'));
    await eventually(() => !candidate.elector.isLeader, 'steps down', 5_000);
    expect(candidate.transitions).toEqual(['started', 'stopped']);
  });

  it('lets only one of two racing writers win a Lease update (409 Conflict on a stale resourceVersion)', async () => {
    const api = await startApi();
    const http = new KubeHttp(api.kubeConfig());
    const created = api.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'race', namespace: 'istio-system' },
      spec: { holderIdentity: '' },
    });
    const path = '/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/race';
    await http.put(path, { ...created, spec: { holderIdentity: 'first' } });
    await expect(http.put(path, { ...created, spec: { holderIdentity: 'second' } })).rejects.toMatchObject({ statusCode: 409, reason: 'Conflict' });
    expect(api.get('Lease', 'istio-system', 'race')!.spec).toEqual({ holderIdentity: 'first' });
  });
});
