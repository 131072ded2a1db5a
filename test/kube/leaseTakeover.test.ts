// The README's take-over bound for an orphaned istio-leader Lease, against a
// real API server and with meshd's default durations (istiod's: 30 s lease,
// 7.5 s retry): a candidate takes the Lease no sooner than leaseDuration and
// no later than leaseDuration + one retryPeriod after the holder's last
// renewTime. This is a correctness bound (a replica must not wait longer, nor
// steal a live lease), not a speed benchmark; it takes about 40 s.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeHttp } from '../../src/sources/kube/kubeHttp.js';
import { LeaseLeaderElector, microTime } from '../../src/sources/kube/leaderElection.js';
import { captureLogger, eventually } from '../support/fakeKubeApiHelpers.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';

const leaseDurationMs = 30_000;
const retryPeriodMs = 7_500;
/** Request round trips (a GET to see the renewal, a GET and a PUT to take over) on a loaded test machine. */
const roundTripsMs = 1_500;

type Lease = KubeObject & { spec: { holderIdentity?: string; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number } };

describe.skipIf(!realApiServerAvailable)('istio-leader Lease take-over against a real API server', () => {
  let api: RealKubeApi;

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  }, 90_000);

  afterAll(async () => {
    await api?.close();
  });

  it('takes an orphaned Lease between leaseDuration and leaseDuration + retryPeriod after its last renewTime', async () => {
    const lease = (spec: Lease['spec']): Lease => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-leader', namespace: 'istio-system' },
      spec,
    });
    const started = Date.now();
    await api.apply(lease({ holderIdentity: 'istiod-gone', leaseDurationSeconds: 30, acquireTime: microTime(started), renewTime: microTime(started) }));

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(api.kubeconfigYaml());
    const log = captureLogger('debug');
    const candidate = new LeaseLeaderElector({
      http: new KubeHttp(kubeConfig),
      logger: log.logger,
      namespace: 'istio-system',
      identity: 'istiod-b',
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    });
    candidate.start();
    try {
      // Once the candidate has seen the record, the holder renews one last time
      // and dies: the candidate sees that renewal only at its next poll, the
      // latest it can (a renewal just after a poll).
      await eventually(() => log.lines.some((l) => l.holder === 'istiod-gone'), 'the candidate saw the held Lease', 10_000);
      const current = (await api.get<Lease>('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader'))!;
      const lastRenewal = Date.now();
      await api.apply(lease({ ...current.spec, renewTime: microTime(lastRenewal) }));

      await eventually(() => candidate.isLeader, 'the candidate takes the orphaned Lease', leaseDurationMs + retryPeriodMs + 10_000);
      const taken = (await api.get<Lease>('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader'))!;
      expect(taken.spec.holderIdentity).toBe('istiod-b');
      const takenAfterMs = Date.parse(taken.spec.acquireTime!) - lastRenewal;
      expect(takenAfterMs).toBeGreaterThanOrEqual(leaseDurationMs);
      expect(takenAfterMs).toBeLessThanOrEqual(leaseDurationMs + retryPeriodMs + roundTripsMs);
    } finally {
      await candidate.stop({ release: false });
    }
  }, 70_000);
});
