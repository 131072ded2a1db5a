// istiod's in-cluster analysis, as meshd does it in Kubernetes mode: the
// Lease holder writes each Istio resource's analysis messages into its
// status.validationMessages (merge patch on the status subresource), clears
// them once fixed, never touches Kubernetes kinds, and a replica that does not
// hold the Lease writes nothing until it takes the Lease over.
import { afterEach, describe, expect, it } from 'vitest';
import { message } from '../../src/analysis/messages.js';
import { hasIstioStatus, validationMessagesByResource } from '../../src/serve/analysisStatus.js';
import { microTime } from '../../src/sources/kube/leaderElection.js';
import { FakeKubeApi, type FakeObject } from '../support/fakeKubeApi.js';
import { eventually, istioCaSecret, namespace, pod, service } from '../support/fakeKubeApiHelpers.js';
import { captureLogs, serveKubeMode, type LogCapture } from '../support/meshdHarness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const ist0101 = {
  type: { name: 'ReferencedResourceNotFound', code: 'IST0101' },
  level: 'ERROR',
  documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0101/',
};

function destinationRule(subsets: string[]): FakeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { host: 'reviews', subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
  };
}

/** VirtualService NAME for host NAME, routing to a subset of reviews. */
function routeToSubset(name: string, subset: string): FakeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'shop' },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: 'reviews', subset } }] }] },
  };
}

/** A mesh with one VirtualService routing to subset v2, which the DestinationRule lacks (IST0101). */
async function startApiWithBrokenRoute(): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start();
  cleanups.push(() => api.close());
  api.apply(namespace('istio-system'));
  api.apply(namespace('shop'));
  // Port named "web": IST0118 on the Service, which must not get a status write.
  api.apply({ ...service('shop', 'reviews', 9080), spec: { selector: { app: 'reviews' }, ports: [{ name: 'web', port: 9080 }] } });
  api.apply(pod('shop', 'reviews-v1', { app: 'reviews', version: 'v1' }, '10.0.0.7'));
  api.apply(destinationRule(['v1']));
  api.apply(routeToSubset('reviews', 'v2'));
  // The CA exists already, so a replica that is not the Lease holder becomes ready too.
  api.apply(istioCaSecret());
  return api;
}

/** meshd serve --kubeconfig in-process, authenticating with its own token (RequestRecord.token tells replicas apart). */
async function startReplica(api: FakeKubeApi, id: string): Promise<{ httpUrl: string; logs: LogCapture }> {
  const { logger, logs } = captureLogs('info');
  const meshd = await serveKubeMode(api, cleanups, { logger, token: id, config: { controlPlaneId: id, debounceAfterMs: 20, debounceMaxMs: 200 } });
  return { httpUrl: `http://127.0.0.1:${meshd.ports.http}`, logs };
}

const statusWrites = (api: FakeKubeApi, token?: string) =>
  api.requests.filter((r) => (r.method === 'PATCH' || r.method === 'PUT') && r.path.endsWith('/status') && (token === undefined || r.token === token));

const validationMessages = (api: FakeKubeApi, name: string): unknown =>
  (api.get('VirtualService', 'shop', name)?.status as { validationMessages?: unknown } | undefined)?.validationMessages;

async function analyzeCodes(httpUrl: string): Promise<string[] | undefined> {
  const res = await fetch(`${httpUrl}/debug/analyze`, { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) return undefined;
  return ((await res.json()) as Array<{ code: string; resource: { kind: string; name: string } }>).map(
    (m) => `${m.code} ${m.resource.kind}/${m.resource.name}`,
  );
}

describe('validationMessages entries', () => {
  it("group messages per Istio resource in istiod's AnalysisMessageBase shape, skipping Kubernetes kinds", () => {
    const vs = { kind: 'VirtualService', namespace: 'shop', name: 'reviews' };
    const byResource = validationMessagesByResource([
      message('ReferencedResourceNotFound', vs, 'Referenced host+subset in destinationrule not found: "reviews+v2"', 'add subset v2'),
      message('ConflictingMeshGatewayVirtualServiceHosts', vs, 'conflict', 'merge them'),
      message('PortNameIsNotUnderNamingConvention', { kind: 'Service', namespace: 'shop', name: 'reviews' }, 'Port name web', 'rename'),
      message('DestinationRuleSubsetNotSelectPods', { kind: 'DestinationRule', namespace: 'shop', name: 'reviews' }, 'no pods', 'fix labels'),
      message('DestinationRuleTLSConflictsWithPeerAuthentication', { kind: 'DestinationRule', namespace: 'shop', name: 'reviews' }, 'conflict', 'relax'),
    ]);
    expect([...byResource.keys()]).toEqual(['VirtualService/shop/reviews', 'DestinationRule/shop/reviews']);
    expect(byResource.get('VirtualService/shop/reviews')!.messages).toEqual([
      ist0101,
      {
        type: { name: 'ConflictingMeshGatewayVirtualServiceHosts', code: 'IST0109' },
        level: 'ERROR',
        documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0109/',
      },
    ]);
    // meshd's own codes are not on istio.io: no documentationUrl for them.
    expect(byResource.get('DestinationRule/shop/reviews')!.messages).toEqual([
      {
        type: { name: 'DestinationRuleSubsetNotSelectPods', code: 'IST0173' },
        level: 'ERROR',
        documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0173/',
      },
      { type: { name: 'DestinationRuleTLSConflictsWithPeerAuthentication', code: 'MESHD0001' }, level: 'ERROR' },
    ]);
    expect(['VirtualService', 'AuthorizationPolicy', 'Sidecar'].every(hasIstioStatus)).toBe(true);
    expect(['Service', 'Pod', 'Namespace', 'File', 'Unknown'].some(hasIstioStatus)).toBe(false);
  });
});

describe('analysis messages in resource status (Kubernetes mode)', () => {
  it('the Lease holder writes IST0101 into the VirtualService status, clears it once fixed, and leaves Services alone', async () => {
    const api = await startApiWithBrokenRoute();
    await startReplica(api, 'istiod-a');

    await eventually(
      () => JSON.stringify(validationMessages(api, 'reviews')) === JSON.stringify([ist0101]),
      'IST0101 in VirtualService shop/reviews status',
      20_000,
    );
    expect(api.get('VirtualService', 'shop', 'reviews')!.metadata.generation).toBe(1);
    expect(statusWrites(api).map((r) => `${r.method} ${r.path}`)).toEqual([
      'PATCH /apis/networking.istio.io/v1/namespaces/shop/virtualservices/reviews/status',
    ]);

    // Fixed: the DestinationRule gains subset v2, and the message goes away.
    api.apply(destinationRule(['v1', 'v2']));
    await eventually(() => validationMessages(api, 'reviews') === undefined, 'validationMessages cleared', 20_000);

    // A later mistake is written too; meanwhile each status was written only when its messages
    // changed (reviews: set, cleared), not again for every analysis its own status events caused.
    api.apply(routeToSubset('ratings', 'v3'));
    await eventually(
      () => JSON.stringify(validationMessages(api, 'ratings')) === JSON.stringify([ist0101]),
      'IST0101 in VirtualService shop/ratings status',
      20_000,
    );
    // Subset v2 selects no pod: the DestinationRule now carries IST0173 (an Error, as istioctl reports it).
    expect((api.get('DestinationRule', 'shop', 'reviews')?.status as { validationMessages?: unknown })?.validationMessages).toEqual([
      {
        type: { name: 'DestinationRuleSubsetNotSelectPods', code: 'IST0173' },
        level: 'ERROR',
        documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0173/',
      },
    ]);
    const written = statusWrites(api)
      .map((r) => r.path.split('/').slice(-3, -1).join('/'))
      .sort();
    expect(written).toEqual(['destinationrules/reviews', 'virtualservices/ratings', 'virtualservices/reviews', 'virtualservices/reviews']);
    // The Service's IST0118 stays in the analysis only.
    expect(api.requests.filter((r) => r.method !== 'GET' && r.path.includes('/services'))).toEqual([]);
  }, 60_000);

  it('a replica that does not hold the Lease writes nothing; once it takes the Lease over it writes, and clears what the former holder left', async () => {
    const api = await startApiWithBrokenRoute();
    // Another replica holds a fresh Lease.
    api.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-leader', namespace: 'istio-system' },
      spec: {
        holderIdentity: 'istiod-elsewhere',
        leaseDurationSeconds: 30,
        acquireTime: microTime(Date.now()),
        renewTime: microTime(Date.now()),
        leaseTransitions: 0,
      },
    });
    // A message a former Lease holder left on the DestinationRule, which is fine now.
    const stale = [
      {
        type: { name: 'NoMatchingWorkloadsFound', code: 'IST0127' },
        level: 'WARNING',
        documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0127/',
      },
    ];
    api.apply({ ...destinationRule(['v1']), status: { validationMessages: stale } });
    const drMessages = (): unknown =>
      (api.get('DestinationRule', 'shop', 'reviews')?.status as { validationMessages?: unknown } | undefined)?.validationMessages;
    const replica = await startReplica(api, 'istiod-b');

    // It analyses (twice: on sync and on request) and finds the problem...
    await eventually(async () => (await analyzeCodes(replica.httpUrl))?.includes('IST0101 VirtualService/reviews'), 'IST0101 in istiod-b analysis', 20_000);
    expect(await analyzeCodes(replica.httpUrl)).toContain('IST0101 VirtualService/reviews');
    // ...but it is not the Lease holder, so it writes no status.
    expect(api.get('Lease', 'istio-system', 'istio-leader')?.spec).toMatchObject({ holderIdentity: 'istiod-elsewhere' });
    expect(statusWrites(api)).toEqual([]);
    expect(validationMessages(api, 'reviews')).toBeUndefined();
    expect(drMessages()).toEqual(stale);

    // The other replica is gone and its Lease with it: istiod-b takes over and writes.
    api.remove('Lease', 'istio-system', 'istio-leader');
    await eventually(() => JSON.stringify(validationMessages(api, 'reviews')) === JSON.stringify([ist0101]), 'IST0101 written by the new Lease holder', 30_000);
    expect(api.get('Lease', 'istio-system', 'istio-leader')?.spec).toMatchObject({ holderIdentity: 'istiod-b' });
    // ...and clears what the former holder left behind.
    await eventually(() => drMessages() === undefined, 'stale DestinationRule message cleared', 10_000);
    expect(
      statusWrites(api)
        .map((r) => `${r.token} ${r.path.split('/').slice(-3, -1).join('/')}`)
        .sort(),
    ).toEqual(['istiod-b destinationrules/reviews', 'istiod-b virtualservices/reviews']);
  }, 60_000);

  it('a failed status write is logged and retried after the next analysis, without stopping meshd', async () => {
    const api = await startApiWithBrokenRoute();
    api.failNext(1, 500, (method, path) => method === 'PATCH' && path.endsWith('/status'));
    const replica = await startReplica(api, 'istiod-c');
    await eventually(() => statusWrites(api).some((r) => r.status === 500), 'the injected failed status write', 20_000);
    expect(validationMessages(api, 'reviews')).toBeUndefined();
    const warning = await eventually(
      () => replica.logs.find((l) => l.resource === 'VirtualService shop/reviews' && l.level === 40),
      'a warning naming the resource',
    );
    expect(String(warning.msg)).toContain('retrying after the next analysis');
    expect(String(warning.err)).toContain('HTTP 500');
    // The next analysis (here: asked for over the debug API) writes it.
    expect(await analyzeCodes(replica.httpUrl)).toContain('IST0101 VirtualService/reviews');
    await eventually(() => JSON.stringify(validationMessages(api, 'reviews')) === JSON.stringify([ist0101]), 'IST0101 written on retry', 20_000);
    expect(statusWrites(api).map((r) => r.status)).toEqual([500, 200]);
  }, 60_000);
});
