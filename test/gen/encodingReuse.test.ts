// One copy per distinct content: proxies in different scopes share the bytes
// of identical clusters, and a new push context hands out the previous
// context's resource objects (bytes and version) for content the change did
// not touch, so only changed content is new.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeshModel } from '../../src/model/meshModel.js';
import { PushContext } from '../../src/push/pushContext.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl, type XdsResource } from '../../src/xds/resource.js';
import type { KubeObject } from '../../src/model/kube.js';
import { proxyForPod } from '../support/goldenMesh.js';
import { kindValidators } from '../../src/security/validation.js';

const service = (name: string, ns: string, port: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: { clusterIP: `10.96.0.${port % 250}`, ports: [{ name: 'http', port }] },
});
const pod = (ns: string) => proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `client-${ns}`, namespace: ns } });
const cds = { typeUrl: TypeUrl.Cluster, wildcard: true, names: new Set<string>() };
const request = { version: 'v', reason: [], startedAt: 0 };
const byName = (list: readonly XdsResource[]) => new Map(list.map((r) => [r.name, r]));

describe('encoding reuse', () => {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply([service('reviews', 'shop', 9080), service('ratings', 'shop', 9081)].map((object) => ({ type: 'upsert' as const, object })));

  it('shares the bytes of identical clusters between proxies of different namespaces', () => {
    const context = new PushContext(model.snapshot());
    const generator = new SidecarGenerator(() => context);
    const shop = byName(generator.generate(pod('shop'), cds, request)!);
    const distinctBefore = context.encodings.size;
    const other = byName(generator.generate(pod('other'), cds, request)!);
    expect(context.scopeFor(pod('shop')).key).not.toBe(context.scopeFor(pod('other')).key);
    expect(other.get('outbound|9080||reviews.shop.svc.cluster.local')).toBe(shop.get('outbound|9080||reviews.shop.svc.cluster.local'));
    expect(other.size).toBe(shop.size);
    expect(context.encodings.size).toBe(distinctBefore); // nothing new to keep
  });

  it('keeps only what changed as new content when the next push context is built', () => {
    const first = new PushContext(model.snapshot());
    const before = byName(new SidecarGenerator(() => first).generate(pod('shop'), cds, request)!);
    model.apply([{ type: 'upsert', object: service('details', 'shop', 9082) }]);
    const second = new PushContext(model.snapshot(), undefined, first.encodings);
    const after = byName(new SidecarGenerator(() => second).generate(pod('shop'), cds, request)!);
    expect(after.get('outbound|9080||reviews.shop.svc.cluster.local')).toBe(before.get('outbound|9080||reviews.shop.svc.cluster.local'));
    expect(after.has('outbound|9082||details.shop.svc.cluster.local')).toBe(true);
    const reused = new Set(first.encodings.values());
    const fresh = [...after.values()].filter((r) => !reused.has(r));
    expect(fresh.map((r) => r.name)).toEqual(['outbound|9082||details.shop.svc.cluster.local']); // only the new cluster
  });
});
