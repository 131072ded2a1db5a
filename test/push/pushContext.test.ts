import { describe, expect, it } from 'vitest';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { analyzeMissingSubsets } from '../../src/push/analysis.js';

const svc = (name: string, ns: string, port = 80, portName = 'http', selector = name) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  clusterIP: 10.96.${ns.length}.${name.length}
  selector: {app: ${selector}}
  ports: [{name: ${portName}, port: ${port}}]
`;
const pod = (name: string, ns: string, app: string) => proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app } } });

describe('PushContext indexes', () => {
  it('indexes services by hostname and resolves VirtualService and DestinationRule short names against their namespace', () => {
    const { context } = meshFromYaml(`${svc('reviews', 'shop')}${svc('reviews', 'other')}---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: r, namespace: other}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
`);
    expect(context.service('reviews.shop.svc.cluster.local')?.addresses).toEqual(['10.96.4.7']);
    expect(context.virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')?.name).toBe('r');
    expect(context.virtualServiceFor('reviews.other.svc.cluster.local', 'shop')).toBeUndefined();
    expect(context.destinationRuleFor({ namespace: 'shop' }, 'reviews.other.svc.cluster.local')?.namespace).toBe('other');
    expect(context.destinationRuleFor({ namespace: 'shop' }, 'reviews.shop.svc.cluster.local')).toBeUndefined();
  });

  it('prefers the DestinationRule in the proxy namespace, then the service namespace, then the root namespace', () => {
    const dr = (ns: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-${ns}, namespace: ${ns}}
spec: {host: reviews.shop.svc.cluster.local}
`;
    const { context } = meshFromYaml(`${svc('reviews', 'shop')}${dr('istio-system')}${dr('shop')}${dr('client')}`);
    expect(context.destinationRuleFor({ namespace: 'client' }, 'reviews.shop.svc.cluster.local')?.name).toBe('dr-client');
    expect(context.destinationRuleFor({ namespace: 'elsewhere' }, 'reviews.shop.svc.cluster.local')?.name).toBe('dr-shop');
  });

  it('scopes a workload by its Sidecar egress hosts (ns/host, ./host, */host) and honours exportTo', () => {
    const { context } = meshFromYaml(`${svc('a', 'shop')}${svc('b', 'shop')}${svc('c', 'infra')}${svc('d', 'infra')}---
apiVersion: v1
kind: Service
metadata: {name: private, namespace: infra, annotations: {networking.istio.io/exportTo: "."}}
spec: {clusterIP: 10.96.9.9, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress: [{hosts: ["./a.shop.svc.cluster.local", "infra/*", "*/private.infra.svc.cluster.local"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: only-b, namespace: shop}
spec:
  workloadSelector: {labels: {app: b}}
  egress: [{hosts: ["*/b.shop.svc.cluster.local"]}]
`);
    const names = (app: string, ns = 'shop') => context.scopeFor(pod(`${app}-1`, ns, app)).services.map((s) => s.name);
    expect(names('a')).toEqual(['a', 'c', 'd']);
    expect(names('b')).toEqual(['b']);
    expect(names('x', 'infra')).toEqual(['a', 'b', 'c', 'd', 'private']);
    expect(context.scopeFor(pod('a-1', 'shop', 'a'))).toBe(context.scopeFor(pod('a-2', 'shop', 'a')));
  });

  it('collects endpoints per service port with subset labels from pods and drops endpoints that are neither ready nor serving', () => {
    const { context } = meshFromYaml(`${svc('reviews', 'shop', 9080)}---
apiVersion: v1
kind: Pod
metadata: {name: r1, namespace: shop, labels: {app: reviews, version: v1, istio-locality: us-east.us-east-1a.rack1}}
status: {podIP: 10.1.0.1}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- {addresses: [10.1.0.1], conditions: {ready: true}}
- {addresses: [10.1.0.2], conditions: {ready: false, serving: true, terminating: true}}
- {addresses: [10.1.0.3], conditions: {ready: false}}
`);
    const eps = context.endpoints('reviews.shop.svc.cluster.local', 9080);
    expect(eps.map((e) => [e.address, e.port, e.health])).toEqual([
      ['10.1.0.1', 8080, 'HEALTHY'],
      ['10.1.0.2', 8080, 'DRAINING'],
    ]);
    expect(eps[0]!.labels.version).toBe('v1');
    expect(eps[0]!.locality).toEqual({ region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' });
  });

  it('reports IST0101 for a VirtualService routing to a subset its DestinationRule does not define', () => {
    const { context } = meshFromYaml(`${svc('reviews', 'shop')}${svc('ratings', 'shop')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v3}, weight: 50}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: shop}
spec: {hosts: [ratings], http: [{route: [{destination: {host: ratings, subset: v2}}]}]}
`);
    expect(analyzeMissingSubsets(context)).toEqual([
      expect.objectContaining({
        code: 'IST0101',
        level: 'Error',
        resource: 'VirtualService shop/ratings',
        message: 'Referenced host+subset in destinationrule not found: "ratings+v2"',
      }),
      expect.objectContaining({ code: 'IST0101', resource: 'VirtualService shop/reviews', destinationRule: 'shop/reviews', subset: 'v3' }),
    ]);
  });
});
