// The Gateway API status writer against the fake API server: only the Lease
// holder writes; a condition keeps its lastTransitionTime while its status
// holds; other controllers' route parents stay; an unchanged status is not
// written again (no write loops); meshd's parent entry is cleared when the
// route no longer attaches to meshd's Gateways.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { KubeObject } from '../../src/model/kube.js';
import type { DesiredStatus } from '../../src/push/gatewayApi/translate.js';
import { GatewayApiStatusWriter } from '../../src/serve/gatewayApiStatus.js';
import { KubeHttp } from '../../src/sources/kube/index.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const otherParent = {
  parentRef: { name: 'mesh-edge' },
  controllerName: 'example.com/other',
  conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
};
const ourParent = (status: 'True' | 'False', reason: string) => ({
  parentRef: { name: 'edge', namespace: 'ingress' },
  controllerName: 'istio.io/gateway-controller',
  conditions: [
    { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'attached', observedGeneration: 1 },
    { type: 'ResolvedRefs', status, reason, message: reason, observedGeneration: 1 },
  ],
});

async function setup() {
  const api = await FakeKubeApi.start({
    extraResources: [{ group: 'gateway.networking.k8s.io', versions: ['v1'], plural: 'httproutes', kind: 'HTTPRoute', namespaced: true, custom: true }],
  });
  cleanups.push(() => api.close());
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {},
    status: { parents: [otherParent] },
  });
  let leader = false;
  let desired: DesiredStatus[] = [];
  let clock = new Date('2026-12-03T10:00:00Z');
  const writer = new GatewayApiStatusWriter({
    http: new KubeHttp(api.kubeConfig(), { requestTimeoutMs: 2_000 }),
    logger: pino({ level: 'silent' }),
    isLeader: () => leader,
    apiVersionOf: () => 'gateway.networking.k8s.io/v1',
    desired: () => desired,
    // As the model holds it: the status as of the last spec change.
    observed: () => [{ kind: 'HTTPRoute', object: api.get('HTTPRoute', 'shop', 'web') as unknown as KubeObject }],
    now: () => clock,
  });
  const patches = () => api.requests.filter((r) => r.method === 'PATCH').length;
  const sync = async () => {
    writer.sync();
    await writer.idle();
  };
  const route = () => api.get('HTTPRoute', 'shop', 'web') as unknown as { status: { parents: any[] } };
  return {
    api,
    writer,
    patches,
    sync,
    route,
    lead: () => {
      leader = true;
    },
    want: (parents: unknown[]) => {
      desired = [{ kind: 'HTTPRoute', namespace: 'shop', name: 'web', status: { parents } }];
    },
    tick: (iso: string) => {
      clock = new Date(iso);
    },
  };
}

describe('GatewayApiStatusWriter', () => {
  it('writes only as Lease holder, keeps other controllers and transition times, never rewrites an unchanged status, and clears its own entry', async () => {
    const t = await setup();
    t.want([ourParent('False', 'RefNotPermitted')]);
    await t.sync();
    expect(t.patches()).toBe(0);

    t.lead();
    await t.sync();
    expect(t.patches()).toBe(1);
    const first = t.route().status.parents;
    expect(first[0]).toEqual(otherParent);
    expect(first[1].conditions[1]).toMatchObject({
      type: 'ResolvedRefs',
      status: 'False',
      reason: 'RefNotPermitted',
      lastTransitionTime: '2026-12-03T10:00:00Z',
    });

    // Same conditions later: nothing to write.
    t.tick('2026-12-03T10:05:00Z');
    await t.sync();
    expect(t.patches()).toBe(1);

    // Fixed: ResolvedRefs turns True with a new transition time; Accepted keeps its own.
    t.want([ourParent('True', 'ResolvedRefs')]);
    await t.sync();
    expect(t.patches()).toBe(2);
    const fixed = t.route().status.parents[1].conditions;
    expect(fixed[0].lastTransitionTime).toBe('2026-12-03T10:00:00Z');
    expect(fixed[1]).toMatchObject({ status: 'True', reason: 'ResolvedRefs', lastTransitionTime: '2026-12-03T10:05:00Z' });

    // No longer attached to meshd's Gateways: meshd's entry goes, the other controller's stays.
    t.want([]);
    await t.sync();
    expect(t.patches()).toBe(3);
    expect(t.route().status.parents).toEqual([otherParent]);
    await t.sync();
    expect(t.patches()).toBe(3);
  });
});
