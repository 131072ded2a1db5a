// Proxies of one configuration scope that subscribe RDS with the same (interned) name set are
// handed one array of route configurations, so the server encodes one response body, keeps one
// held-versions map and one status set for all of them (issue 13: per-proxy work at sync).
import { describe, expect, it } from 'vitest';
import { PushContext } from '../../src/push/pushContext.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { meshFromYaml } from '../support/goldenMesh.js';

const pod = (name: string, ns: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: ${ip}}
---
`;
const meshYaml = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: details, namespace: shop}
spec: {clusterIP: 10.96.0.3, ports: [{name: http-web, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: narrow, namespace: blog}
spec: {egress: [{hosts: [shop/reviews.shop.svc.cluster.local]}]}
---
${pod('web-1', 'shop', '10.3.0.1')}${pod('web-2', 'shop', '10.3.0.2')}${pod('reader', 'blog', '10.3.0.3')}`;

const rds = (names: ReadonlySet<string>) => ({ typeUrl: TypeUrl.RouteConfiguration, wildcard: false, names });
const wildcard = { typeUrl: TypeUrl.RouteConfiguration, wildcard: true, names: new Set<string>() };

describe('RDS lists per scope and name set', () => {
  const { context, proxies } = meshFromYaml(meshYaml);
  const [web1, web2, reader] = ['web-1', 'web-2', 'reader'].map((name) => proxies.find((p) => p.podName === name)!);
  const generator = new SidecarGenerator(() => context);
  const request = { version: 'v1', reason: ['test'], startedAt: 0 };

  it('hands proxies of one scope naming the same set one array, and a set of other names its own', () => {
    const names = new Set(['9080', '8080']);
    const first = generator.generate(web1!, rds(names), request)!;
    expect(first.map((r) => r.name)).toEqual(['9080', '8080']);
    expect(generator.generate(web2!, rds(names), request)).toBe(first);
    // Wildcard subscriptions of the scope share one array too.
    expect(generator.generate(web2!, wildcard, request)).toBe(generator.generate(web1!, wildcard, request));

    const fewer = generator.generate(web2!, rds(new Set(['9080'])), request)!;
    expect(fewer).not.toBe(first);
    expect(fewer.map((r) => r.name)).toEqual(['9080']);
    // The resources themselves are the scope's, whichever list carries them.
    expect(fewer[0]).toBe(first[0]);
    expect(first.map((r) => r.name)).toEqual(['9080', '8080']);
  });

  it('does not share across scopes or push contexts', () => {
    const names = new Set(['9080']);
    const shop = generator.generate(web1!, rds(names), request)!;
    const blog = generator.generate(reader!, rds(names), request)!;
    expect(blog).not.toBe(shop);
    expect(blog.map((r) => r.name)).toEqual(['9080']);

    const next = new PushContext(context.snapshot, context.options);
    const nextGenerator = new SidecarGenerator(() => next);
    const again = nextGenerator.generate(web1!, rds(names), request)!;
    expect(again).not.toBe(shop);
    expect(again.map((r) => r.name)).toEqual(['9080']);
  });

  it('answers names no listener carries per proxy', () => {
    const names = new Set(['9080', 'unknown.example.com:443']);
    const first = generator.generate(web1!, rds(names), request)!;
    const second = generator.generate(web2!, rds(names), request)!;
    expect(second).not.toBe(first);
    expect(first.map((r) => r.name)).toEqual(['9080', 'unknown.example.com:443']);
    expect(second.map((r) => r.name)).toEqual(['9080', 'unknown.example.com:443']);
  });
});
