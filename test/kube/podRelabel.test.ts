// Kubernetes mode: a proxy is described by its pod, and re-evaluated when the
// pod's labels change (here: a Service starts selecting it, so its inbound
// listener gains that port) without the proxy reconnecting.
import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, type ReceivedResponse } from '../support/adsClient.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { eventually, istioCaSecret, namespace, pod, service } from '../support/fakeKubeApiHelpers.js';
import { captureLogs, serveKubeMode } from '../support/meshdHarness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Destination ports of the virtualInbound filter chains in an LDS response. */
function inboundPorts(lds: ReceivedResponse): number[] {
  const inbound = lds.resources.find((r) => r.name === 'virtualInbound')?.body as
    { filterChains?: Array<{ filterChainMatch?: { destinationPort?: { value?: number } } }> } | undefined;
  return [...new Set((inbound?.filterChains ?? []).map((c) => c.filterChainMatch?.destinationPort?.value).filter((p): p is number => typeof p === 'number'))];
}

/** Whether an RDS response has a route with the 7 s timeout the app=web VirtualService rule sets. */
function hasSevenSecondRoute(rds: ReceivedResponse): boolean {
  const routes = rds.resources.flatMap((r) =>
    ((r.body.virtualHosts ?? []) as Array<{ routes?: Array<{ route?: { timeout?: { seconds?: string | number } } }> }>).flatMap((vh) => vh.routes ?? []),
  );
  return routes.some((route) => Number(route.route?.timeout?.seconds) === 7);
}

describe('proxy described by its pod', () => {
  it('re-evaluates a connected proxy when its pod is relabelled', async () => {
    const api = await FakeKubeApi.start();
    cleanups.push(() => api.close());
    api.apply(namespace('istio-system'));
    api.apply(namespace('shop'));
    api.apply(service('shop', 'web', 8080));
    api.apply(pod('shop', 'client-1', { app: 'client' }, '10.0.0.9'));
    // Requests from app=web workloads to web get a 7 s timeout: the relabelled proxy's routes change too.
    api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        hosts: ['web'],
        http: [
          { match: [{ sourceLabels: { app: 'web' } }], timeout: '7s', route: [{ destination: { host: 'web' } }] },
          { route: [{ destination: { host: 'web' } }] },
        ],
      },
    });
    api.apply(istioCaSecret());
    const meshd = await serveKubeMode(api, cleanups, { logger: captureLogs('warn').logger, config: { debounceAfterMs: 20, debounceMaxMs: 200 } });
    await eventually(() => meshd.ready, 'meshd ready', 20_000);

    // The node metadata claims app=web; the pod (app=client) wins, so no inbound 8080 yet.
    const client = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', {
      id: 'sidecar~10.0.0.9~client-1.shop~shop.svc.cluster.local',
      metadata: { NAMESPACE: 'shop', LABELS: { app: 'web' }, ISTIO_VERSION: '1.24.0' },
    });
    cleanups.push(() => client.close());
    client.request(TypeUrl.Listener);
    const first = await client.next();
    expect(inboundPorts(first)).not.toContain(8080);
    client.ack(first);
    client.request(TypeUrl.RouteConfiguration, { names: ['8080'] });
    const routes = await client.next();
    expect(routes.resources.map((r) => r.name)).toEqual(['8080']);
    expect(hasSevenSecondRoute(routes)).toBe(false);
    client.ack(routes, ['8080']); // an RDS ACK repeats the names, as Envoy's does

    api.apply(pod('shop', 'client-1', { app: 'web' }, '10.0.0.9'));
    let sawListener = false;
    let sawRoute = false;
    await eventually(
      async () => {
        const latest = await client.next(10_000);
        client.ack(latest, latest.typeUrl === TypeUrl.RouteConfiguration ? ['8080'] : undefined);
        sawListener ||= latest.typeUrl === TypeUrl.Listener && inboundPorts(latest).includes(8080);
        sawRoute ||= latest.typeUrl === TypeUrl.RouteConfiguration && hasSevenSecondRoute(latest);
        return sawListener && sawRoute;
      },
      'an LDS push with inbound 8080 and an RDS push with the app=web route',
      20_000,
    );
    expect(client.status).toBeUndefined();
  }, 60_000);
});
