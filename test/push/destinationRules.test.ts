import { describe, expect, it } from 'vitest';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { changeImpact } from '../../src/push/changes.js';
import type { ModelChange } from '../../src/model/meshModel.js';

const service = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 80}]}
`;
const dr = (name: string, ns: string, day: number, extra: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "2024-01-0${day}T00:00:00Z"}
spec:
  host: reviews.shop.svc.cluster.local
${extra}`;
const pod = (name: string, ns: string, labels: Record<string, string>) =>
  proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels } });
const HOST = 'reviews.shop.svc.cluster.local';

describe('DestinationRule workloadSelector', () => {
  const { context } = meshFromYaml(
    `${service}${dr(
      'all',
      'shop',
      1,
      `  subsets: [{name: v1, labels: {version: v1}}]
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`,
    )}${dr(
      'batch',
      'shop',
      2,
      `  workloadSelector: {matchLabels: {app: batch}}
  subsets: [{name: v1, labels: {version: other}}, {name: canary, labels: {track: canary}}]
`,
    )}${dr(
      'batch-twin',
      'shop',
      3,
      `  workloadSelector: {matchLabels: {app: batch}}
  subsets: [{name: twin, labels: {version: v3}}]
`,
    )}${dr(
      'backend',
      'shop',
      4,
      `  workloadSelector: {matchLabels: {tier: backend}}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`,
    )}${dr(
      'root',
      'istio-system',
      1,
      `  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`,
    )}${dr(
      'only-selector',
      'ops',
      1,
      `  workloadSelector: {matchLabels: {app: tool}}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`,
    )}`,
  );
  const ruleFor = (p: ReturnType<typeof pod>) => context.destinationRuleFor(context.scopeFor(p), HOST);

  it('takes precedence for the workloads it selects, merged with the same-selector and catch-all rules of its namespace', () => {
    const rule = ruleFor(pod('b', 'shop', { app: 'batch', tier: 'backend' }))!;
    // The older of the matching selectors wins over `backend`; its twin (same selector) and `all` merge in.
    expect(rule.name).toBe('batch');
    expect(rule.from).toEqual(['shop/batch', 'shop/batch-twin', 'shop/all']);
    expect(rule.spec.subsets!.map((s) => `${s.name}:${Object.values(s.labels ?? {})[0]}`)).toEqual(['v1:other', 'canary:canary', 'twin:v3']);
    expect(rule.spec.trafficPolicy).toEqual({ loadBalancer: { simple: 'ROUND_ROBIN' } });
  });

  it('leaves workloads it does not select, and other namespaces, with the catch-all rules', () => {
    expect(ruleFor(pod('f', 'shop', { app: 'frontend' }))?.from).toEqual(['shop/all']);
    expect(ruleFor(pod('b', 'other', { app: 'batch' }))?.from).toEqual(['shop/all']);
    expect(ruleFor(pod('x', 'shop', { tier: 'backend' }))?.from).toEqual(['shop/backend', 'shop/all']);
    // A namespace with only a selector rule: unselected workloads fall through to the service and root namespaces.
    expect(ruleFor(pod('t', 'ops', { app: 'other' }))?.from).toEqual(['shop/all']);
    expect(ruleFor(pod('t', 'ops', { app: 'tool' }))?.from).toEqual(['ops/only-selector']);
  });

  it('gives selected workloads a scope of their own, shared by workloads the same rules select', () => {
    const batch1 = context.scopeFor(pod('b1', 'shop', { app: 'batch' }));
    const batch2 = context.scopeFor(pod('b2', 'shop', { app: 'batch', version: 'x' }));
    const frontend = context.scopeFor(pod('f', 'shop', { app: 'frontend' }));
    expect(batch1).toBe(batch2);
    expect(batch1.key).not.toBe(frontend.key);
    expect(frontend.key).toBe(context.scopeFor(pod('g', 'shop', { app: 'gateway' })).key);
  });

  it('pushes a selector rule change only to proxies of its namespace that see the host', () => {
    const change: ModelChange = {
      kind: 'DestinationRule',
      namespace: 'shop',
      name: 'batch',
      current: {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'batch', namespace: 'shop' },
        spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'batch' } } },
      },
    };
    const impact = changeImpact(change, context, context);
    expect([impact.affects!(pod('b', 'shop', { app: 'batch' })), impact.affects!(pod('b', 'other', { app: 'batch' }))]).toEqual([true, false]);
  });
});

describe('DestinationRule lookup order', () => {
  it('merges rules of one namespace for one host: the first keeps its policy, later ones add new subsets', () => {
    const { context } = meshFromYaml(
      `${service}${dr(
        'first',
        'shop',
        1,
        `  subsets: [{name: v1, labels: {version: v1}}]
`,
      )}${dr(
        'second',
        'shop',
        2,
        `  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: v1, labels: {version: dup}}, {name: v2, labels: {version: v2}}]
`,
      )}`,
    );
    const rule = context.destinationRuleFor({ namespace: 'client' }, HOST)!;
    expect([rule.name, rule.from, rule.spec.subsets!.map((s) => s.labels!.version), rule.spec.trafficPolicy]).toEqual([
      'first',
      ['shop/first', 'shop/second'],
      ['v1', 'v2'],
      { loadBalancer: { simple: 'RANDOM' } },
    ]);
  });

  it('ignores a rule outside the proxy, service and root namespaces, and lets a root-namespace proxy prefer the service namespace', () => {
    const { context } = meshFromYaml(`${service}${dr('elsewhere', 'third', 1, '')}`);
    expect(context.destinationRuleFor({ namespace: 'client' }, HOST)).toBeUndefined();
    const both = meshFromYaml(`${service}${dr('mesh', 'istio-system', 1, '')}${dr('svc', 'shop', 2, '')}`).context;
    expect(both.destinationRuleFor({ namespace: 'istio-system' }, HOST)?.name).toBe('svc');
    expect(both.destinationRuleFor({ namespace: 'client' }, HOST)?.name).toBe('svc');
  });

  it('prefers the exact host over a wildcard within a namespace', () => {
    const { context } = meshFromYaml(`${service}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wide, namespace: shop}
spec: {host: "*.shop.svc.cluster.local"}
${dr('exact', 'shop', 2, '')}`);
    expect(context.destinationRuleFor({ namespace: 'client' }, HOST)?.name).toBe('exact');
    // No service of that name: only the proxy's and the root namespaces are searched.
    expect(context.destinationRuleFor({ namespace: 'shop' }, 'ratings.shop.svc.cluster.local')?.name).toBe('wide');
    expect(context.destinationRuleFor({ namespace: 'client' }, 'ratings.shop.svc.cluster.local')).toBeUndefined();
  });
});
