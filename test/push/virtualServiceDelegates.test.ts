import { describe, expect, it } from 'vitest';
import type { HTTPRoute } from '../../src/model/istio.js';
import type { ModelChange } from '../../src/model/meshModel.js';
import { mergeHttpRoute, mergeMatchRequests, stringMatchConflict } from '../../src/push/virtualServiceDelegates.js';
import { changeImpact } from '../../src/push/changes.js';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';

const to = (subset: string): HTTPRoute['route'] => [{ destination: { host: 'reviews', subset } }];

describe('delegate match merge', () => {
  it('narrows a root prefix with a longer delegate prefix, keeping the root conditions the delegate does not set', () => {
    const merged = mergeMatchRequests(
      [{ name: 'api', uri: { prefix: '/api' }, headers: { 'x-team': { exact: 'a' } }, port: 9080 }],
      [{ name: 'v2', uri: { prefix: '/api/v2' }, headers: { 'x-canary': { exact: 'true' } } }],
    );
    expect(merged).toEqual([{ name: 'api-v2', uri: { prefix: '/api/v2' }, headers: { 'x-team': { exact: 'a' }, 'x-canary': { exact: 'true' } }, port: 9080 }]);
  });

  it('conflicts when a delegate match cannot sit inside any root match', () => {
    expect(mergeMatchRequests([{ uri: { prefix: '/api' } }], [{ uri: { prefix: '/admin' } }])).toBe('conflict');
    // One incompatible delegate match is enough to drop the whole route.
    expect(mergeMatchRequests([{ uri: { prefix: '/api' } }], [{ uri: { prefix: '/api/x' } }, { uri: { exact: '/other' } }])).toBe('conflict');
    expect(mergeMatchRequests([{ port: 80 }], [{ port: 81 }])).toBe('conflict');
    expect(mergeMatchRequests([{ headers: { 'x-a': { exact: '1' } } }], [{ headers: { 'x-a': { exact: '2' } } }])).toBe('conflict');
    expect(mergeMatchRequests([{ sourceLabels: { app: 'a' } }], [{ sourceLabels: { app: 'b' } }])).toBe('conflict');
    expect(mergeMatchRequests([{ gateways: ['mesh'] }], [{ gateways: ['ingress'] }])).toBe('conflict');
    expect(mergeMatchRequests([{ uri: { prefix: '/' }, ignoreUriCase: true }], [{ uri: { prefix: '/a' } }])).toBe('conflict');
  });

  it('pairs each delegate match with every compatible root match', () => {
    const merged = mergeMatchRequests(
      [{ uri: { prefix: '/v1' } }, { uri: { prefix: '/v2' } }, { method: { exact: 'GET' } }],
      [{ uri: { prefix: '/v2/items' } }],
    );
    expect(merged).toEqual([{ uri: { prefix: '/v2/items' } }, { uri: { prefix: '/v2/items' }, method: { exact: 'GET' } }]);
  });

  it('keeps either side when the other has no match', () => {
    expect(mergeMatchRequests(undefined, [{ uri: { exact: '/a' } }])).toEqual([{ uri: { exact: '/a' } }]);
    expect(mergeMatchRequests([{ uri: { prefix: '/a' } }], undefined)).toEqual([{ uri: { prefix: '/a' } }]);
    expect(mergeMatchRequests(undefined, undefined)).toBeUndefined();
  });

  it('compares string matches as istiod does: exact needs the same exact, prefix a narrowing, regex an unset other side', () => {
    expect(stringMatchConflict({ exact: '/a' }, { exact: '/a' })).toBe(false);
    expect(stringMatchConflict({ exact: '/a' }, { prefix: '/a' })).toBe(true);
    expect(stringMatchConflict({ prefix: '/a' }, { exact: '/a/b' })).toBe(false);
    expect(stringMatchConflict({ prefix: '/a/b' }, { prefix: '/a' })).toBe(true);
    expect(stringMatchConflict({ regex: '/a.*' }, { regex: '/a.*' })).toBe(true);
    expect(stringMatchConflict({ regex: '/a.*' }, undefined)).toBe(false);
    expect(stringMatchConflict(undefined, { regex: '/a.*' })).toBe(false);
  });
});

describe('delegate route merge', () => {
  const root: HTTPRoute = { name: 'api', match: [{ uri: { prefix: '/api' } }], timeout: '5s', retries: { attempts: 1 }, delegate: { name: 'd' } };

  it('inherits the root entry policies the delegate route leaves unset and joins the names', () => {
    const merged = mergeHttpRoute(root, { name: 'v2', match: [{ uri: { prefix: '/api/v2' } }], timeout: '1s', route: to('v2') });
    expect(merged).toEqual({ name: 'api-v2', match: [{ uri: { prefix: '/api/v2' } }], timeout: '1s', retries: { attempts: 1 }, route: to('v2') });
    expect(mergeHttpRoute(root, { route: to('v1') })).toEqual({
      name: 'api',
      match: [{ uri: { prefix: '/api' } }],
      timeout: '5s',
      retries: { attempts: 1 },
      route: to('v1'),
    });
  });

  it('drops a delegate route whose matches conflict with the root entry', () => {
    expect(mergeHttpRoute(root, { match: [{ uri: { prefix: '/admin' } }], route: to('v1') })).toBeUndefined();
  });
});

describe('delegates in the push context', () => {
  const mesh = (delegateNamespace: string, exportTo = '') =>
    meshFromYaml(`apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /api}}]
    delegate: {name: api${delegateNamespace === 'shop' ? '' : `, namespace: ${delegateNamespace}`}}
  - route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: ${delegateNamespace}}
spec:
  ${exportTo ? `exportTo: [${exportTo}]` : ''}
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
`);

  it('routes a root through its delegate, resolving the delegate short hosts in its own namespace', () => {
    const { context } = mesh('team');
    const root = context.virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')!;
    expect(root.spec.http!.map((h) => [h.match?.[0]?.uri, h.route?.[0]?.destination.host, h.delegate])).toEqual([
      [{ prefix: '/api' }, 'reviews.team.svc.cluster.local', undefined],
      [undefined, 'reviews', undefined],
    ]);
    expect(context.virtualServicesDelegatingTo('team', 'api').map((v) => v.name)).toEqual(['root']);
    // The objects as written stay as written; the delegate has no host of its own.
    expect(context.virtualServices.find((v) => v.name === 'root')!.spec.http![0]!.delegate).toEqual({ name: 'api', namespace: 'team' });
  });

  it('defaults the delegate namespace to the root namespace', () => {
    const { context } = mesh('shop');
    expect(context.virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')!.spec.http![0]!.route![0]!.destination.host).toBe(
      'reviews.shop.svc.cluster.local',
    );
  });

  it('drops the delegating entry when the delegate is not exported to the root namespace', () => {
    const { context } = mesh('team', '"."');
    expect(context.virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')!.spec.http).toEqual([{ route: [{ destination: { host: 'reviews' } }] }]);
    expect(mesh('team', 'shop').context.virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')!.spec.http).toHaveLength(2);
  });

  it("re-pushes the root's routes when its delegate changes", () => {
    const { context } = mesh('team');
    const delegateChange = (name: string): ModelChange => ({
      kind: 'VirtualService',
      namespace: 'team',
      name,
      current: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name, namespace: 'team' },
        spec: { http: [{ route: [{ destination: { host: 'reviews' } }] }] },
      },
    });
    const client = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c', namespace: 'shop' } });
    const impact = changeImpact(delegateChange('api'), context, context);
    expect([...(impact.types as ReadonlySet<string>)].map((t) => t.slice(t.lastIndexOf('.') + 1))).toEqual(['RouteConfiguration']);
    expect(impact.affects!(client)).toBe(true);
    expect(changeImpact(delegateChange('unused'), context, context).affects!(client)).toBe(false);
  });
});
