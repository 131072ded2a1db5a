// The Kubernetes source against the fake API server, through the real
// @kubernetes/client-node informers: initial list, watch, version discovery.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeSource } from '../../src/sources/kube/kubeSource.js';
import type { FakeKubeApi, FakeKubeApiOptions } from '../support/fakeKubeApi.js';
import {
  RecordingSink,
  captureLogger,
  eventually,
  namespace,
  pod,
  service,
  serverSnapshot,
  startFakeApi,
  virtualService,
} from '../support/fakeKubeApiHelpers.js';

const fastBackoff = { initialMs: 20, maxMs: 200 };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const startApi = (options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> => startFakeApi(cleanups, options);

function startSource(api: FakeKubeApi, sink: RecordingSink) {
  const log = captureLogger();
  const source = new KubeSource({ kubeConfig: api.kubeConfig(), logger: log.logger, backoff: fastBackoff, requestTimeoutMs: 2_000 });
  cleanups.push(() => source.stop());
  const started = source.start(sink.sink);
  return { source, started, log };
}

describe('KubeSource', () => {
  it('delivers the initial list with apiVersion and kind set, then marks itself synced', async () => {
    const api = await startApi();
    api.apply(namespace('shop'));
    api.apply(service('shop', 'cart'));
    api.apply(pod('shop', 'cart-1', { app: 'cart' }, '10.0.0.5'));
    api.apply(virtualService('shop', 'cart', 'cart.shop.svc.cluster.local'));
    const sink = new RecordingSink();
    const { source, started } = startSource(api, sink);
    expect(source.synced).toBe(false);
    await started;
    expect(source.synced).toBe(true);
    const svc = sink.get('Service', 'shop', 'cart');
    expect(svc?.apiVersion).toBe('v1');
    expect(svc?.kind).toBe('Service');
    expect(sink.get('VirtualService', 'shop', 'cart')?.apiVersion).toBe('networking.istio.io/v1');
    expect(sink.snapshot()).toEqual(serverSnapshot(api, ['Namespace', 'Service', 'Pod', 'VirtualService']));
    // Timestamps stay strings, as the API server (and a YAML file) has them.
    expect(typeof svc?.metadata.creationTimestamp).toBe('string');
  });

  it('delivers upserts and deletes made after the initial sync, with deletes as ObjectRefs', async () => {
    const api = await startApi();
    api.apply(namespace('shop'));
    const sink = new RecordingSink();
    const { started } = startSource(api, sink);
    await started;
    api.apply(service('shop', 'cart'));
    await eventually(() => sink.has('Service', 'shop', 'cart'), 'service upsert');
    api.apply({ ...service('shop', 'cart', 8080) });
    await eventually(() => (sink.get('Service', 'shop', 'cart')?.spec as { ports: { port: number }[] }).ports[0]!.port === 8080, 'service update');
    api.remove('Service', 'shop', 'cart');
    await eventually(() => !sink.has('Service', 'shop', 'cart'), 'service delete');
    const deletion = sink.events.find((e) => e.type === 'delete');
    expect(deletion).toEqual({ type: 'delete', ref: { kind: 'Service', namespace: 'shop', name: 'cart' } });
  });

  it('delivers an endpoint change made after the sync as one event in one batch, without listing anything again', async () => {
    // Issue 13: where an API write's time goes before the push. Many other objects, so a relist or a
    // per-event walk over them would show in the batch or in the requests.
    const api = await startApi();
    api.apply(namespace('shop'));
    const slice = (name: string, ip: string) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abc`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 80 }],
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    });
    for (let i = 0; i < 200; i++) {
      api.apply(service('shop', `svc-${i}`));
      api.apply(slice(`svc-${i}`, `10.1.${i >> 8}.${i & 255}`));
    }
    const sink = new RecordingSink();
    const { started, log } = startSource(api, sink);
    await started;
    const batchesBefore = sink.batches.length;
    const requestsBefore = api.requests.length;

    api.apply(slice('svc-7', '10.250.0.1'));
    const moved = (): boolean => JSON.stringify(sink.get('EndpointSlice', 'shop', 'svc-7-abc')?.endpoints).includes('10.250.0.1');
    await eventually(moved, 'the endpoint change');

    const batches = sink.batches.slice(batchesBefore);
    expect(batches.map((b) => b.map((e) => (e.type === 'upsert' ? `${e.object.kind}/${e.object.metadata.name}` : e.type)))).toEqual([
      ['EndpointSlice/svc-7-abc'],
    ]);
    // The informers resumed watching from the list; nothing was listed again (watches still opening may show).
    const lists = api.requests.slice(requestsBefore).filter((r) => !/[?&]watch=(true|1)/.test(r.query));
    expect(lists).toEqual([]);
    // The phase line kube mode's benchmark runs read (`--log-dir`), as file mode's `config-dir scanned`.
    expect(log.lines.filter((l) => l.msg === 'watch events delivered').at(-1)).toMatchObject({ watchEvents: 1, events: 1, sinceEventMs: expect.any(Number) });
  });

  it('watches the Istio API version the cluster serves, preferring v1 then v1beta1 then v1alpha3', async () => {
    const api = await startApi({ networkingVersions: ['v1beta1', 'v1alpha3'], securityVersions: [] });
    api.apply({ ...virtualService('shop', 'cart', 'cart'), apiVersion: 'networking.istio.io/v1alpha3' });
    const sink = new RecordingSink();
    const { source, started, log } = startSource(api, sink);
    await started;
    expect(sink.get('VirtualService', 'shop', 'cart')?.apiVersion).toBe('networking.istio.io/v1beta1');
    expect(api.requests.some((r) => r.path === '/apis/networking.istio.io/v1beta1/virtualservices')).toBe(true);
    // security.istio.io (and the Gateway API, whose CRDs this cluster lacks) is not served at all: those kinds count as empty, and say so.
    const missing = source
      .status()
      .filter((s) => s.error === 'not served by the API server')
      .map((s) => s.kind);
    expect(missing.sort()).toEqual([
      'AuthorizationPolicy',
      'GRPCRoute',
      'GatewayClass',
      'HTTPRoute',
      'KubernetesGateway',
      'PeerAuthentication',
      'ReferenceGrant',
      'RequestAuthentication',
    ]);
    expect(log.lines.some((l) => l.kind === 'AuthorizationPolicy' && /not served/.test(String(l.msg)))).toBe(true);
  });

  it('watches EnvoyFilter in networking.istio.io/v1alpha3, the only version Istio has, while the group serves v1 too', async () => {
    const api = await startApi();
    const envoyFilter = {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: { name: 'filter-ratelimit', namespace: 'istio-system' },
      spec: { workloadSelector: { labels: { istio: 'ingressgateway' } } },
    };
    api.apply(envoyFilter);
    const sink = new RecordingSink();
    const { started } = startSource(api, sink);
    await started;
    expect(sink.get('EnvoyFilter', 'istio-system', 'filter-ratelimit')).toMatchObject({ apiVersion: 'networking.istio.io/v1alpha3', spec: envoyFilter.spec });
    expect(api.requests.some((r) => r.path === '/apis/networking.istio.io/v1alpha3/envoyfilters')).toBe(true);
    api.remove('EnvoyFilter', 'istio-system', 'filter-ratelimit');
    await eventually(() => !sink.has('EnvoyFilter', 'istio-system', 'filter-ratelimit'), 'EnvoyFilter delete');
  });

  it('starts watching an Istio kind whose CRD is installed after start', async () => {
    const api = await startApi({ securityVersions: [] });
    const sink = new RecordingSink();
    const log = captureLogger();
    const source = new KubeSource({ kubeConfig: api.kubeConfig(), logger: log.logger, backoff: fastBackoff, rediscoverIntervalMs: 100 });
    cleanups.push(() => source.stop());
    await source.start(sink.sink);
    expect(source.synced).toBe(true);
    api.serve({
      group: 'security.istio.io',
      versions: ['v1beta1'],
      plural: 'authorizationpolicies',
      kind: 'AuthorizationPolicy',
      namespaced: true,
      custom: true,
    });
    api.apply({ apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', metadata: { name: 'allow', namespace: 'shop' }, spec: {} });
    await eventually(() => sink.has('AuthorizationPolicy', 'shop', 'allow'), 'policy from the new CRD');
    expect(sink.get('AuthorizationPolicy', 'shop', 'allow')?.apiVersion).toBe('security.istio.io/v1beta1');
    expect(source.status().find((s) => s.kind === 'AuthorizationPolicy')).toMatchObject({ apiVersion: 'security.istio.io/v1beta1', synced: true });
    expect(log.lines.some((l) => l.kind === 'AuthorizationPolicy' && /now served/.test(String(l.msg)))).toBe(true);
  });

  it('requests bookmarks and resumes from them after a reconnect, even once older versions expired', async () => {
    const api = await startApi({ bookmarkIntervalMs: 60_000 });
    const sink = new RecordingSink();
    const { source, started } = startSource(api, sink);
    await started;
    const serviceLists = () => api.requests.filter((r) => r.path === '/api/v1/services' && !r.query.includes('watch=')).length;
    const listsBefore = serviceLists();
    // The watch opens right after the list: wait for it, then check it asked for bookmarks.
    const watchRequest = await eventually(() => api.requests.find((r) => r.path === '/api/v1/services' && r.query.includes('watch=true')), 'services watch');
    expect(new URLSearchParams(watchRequest.query).get('allowWatchBookmarks')).toBe('true');
    // Services see no event while a namespace changes; only a bookmark moves their resourceVersion.
    api.apply(namespace('other'));
    api.sendBookmarks();
    const serviceStatus = () => source.status().find((s) => s.kind === 'Service')!;
    await eventually(() => serviceStatus().resourceVersion === String(api.resourceVersion), 'bookmark applied');
    api.compact();
    api.dropWatches();
    api.apply(service('other', 'late'));
    await eventually(() => sink.has('Service', 'other', 'late'), 'service after reconnect');
    expect(serviceLists()).toBe(listsBefore);
  });
});
