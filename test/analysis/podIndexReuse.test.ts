// The pods of a snapshot are indexed once and the index serves every later
// push context whose pods did not change (an endpoint change, say); a pod
// change gets a fresh index, so the subset check (IST0173) follows relabels.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { destinationRuleSubsets } from '../../src/analysis/destinationRules.js';
import { analyzeMesh } from '../../src/analysis/index.js';
import { AnalysisInput } from '../../src/analysis/input.js';
import { podIndexOf } from '../../src/analysis/podIndex.js';
import type { KubeObject } from '../../src/model/kube.js';
import { MeshModel } from '../../src/model/meshModel.js';
import { PushContext } from '../../src/push/pushContext.js';
import { kindValidators } from '../../src/security/validation.js';

const pod = (name: string, version: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app: 'reviews', version } },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
  status: { podIP: '10.1.0.1' },
});
const objects: KubeObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { clusterIP: '10.96.0.1', selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] },
  },
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: {
      host: 'reviews',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
  },
  pod('reviews-1', 'v1'),
];
const slice = (ready: boolean): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'reviews-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'reviews' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 9080 }],
  endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready } }],
});

const subsetsWithoutPods = (context: PushContext): string[] =>
  destinationRuleSubsets(new AnalysisInput(context))
    .filter((m) => m.code === 'IST0173')
    .map((m) => m.message.split(' ')[2]!);

describe('pod index reuse across push contexts', () => {
  it('keeps the pod index while pods are unchanged and builds a new one after a relabel', () => {
    const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
    model.apply(objects.map((object) => ({ type: 'upsert', object })));
    const first = new PushContext(model.snapshot());
    expect(subsetsWithoutPods(first)).toEqual(['v2']);

    model.apply([{ type: 'upsert', object: slice(false) }]);
    const afterEndpointChange = new PushContext(model.snapshot());
    // The model hands out the very Pod store while no pod changed, and with it the index.
    expect(afterEndpointChange.snapshot.get('Pod')).toBe(first.snapshot.get('Pod'));
    expect(afterEndpointChange.snapshot.get('EndpointSlice')).not.toBe(first.snapshot.get('EndpointSlice'));
    expect(podIndexOf(afterEndpointChange.snapshot.get('Pod'))).toBe(podIndexOf(first.snapshot.get('Pod')));
    expect(subsetsWithoutPods(afterEndpointChange)).toEqual(['v2']);

    model.apply([{ type: 'upsert', object: pod('reviews-1', 'v2') }]);
    const afterRelabel = new PushContext(model.snapshot());
    expect(podIndexOf(afterRelabel.snapshot.get('Pod'))).not.toBe(podIndexOf(first.snapshot.get('Pod')));
    expect(subsetsWithoutPods(afterRelabel)).toEqual(['v1']);
  });

  it('analyzes a rejected object in place of the served one without copying the other kinds', () => {
    const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
    model.apply(objects.map((object) => ({ type: 'upsert', object })));
    // An invalid edit: the served DestinationRule stays; the analysis looks at the rejected one.
    model.apply([
      {
        type: 'upsert',
        object: { ...objects[1]!, spec: { host: 'reviews', subsets: [{ name: 'v3', labels: { version: 'v3' } }], trafficPolicy: { tls: { mode: 'NOPE' } } } },
      },
    ]);
    expect(model.currentRejections()).toHaveLength(1);
    const messages = analyzeMesh(new PushContext(model.snapshot()), model.currentRejections());
    expect(messages.map((m) => m.code)).toContain('IST0106');
    expect(messages.find((m) => m.code === 'IST0173')?.message).toContain('Subset v3');
  });
});
