// The fake API server itself speaks the protocol the informers rely on; these
// checks keep it honest with raw HTTP, independent of client-node.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { namespace, pod, service, virtualService } from '../support/fakeKubeApiHelpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startApi(options = {}): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start(options);
  cleanups.push(() => api.close());
  return api;
}

/** Reads a watch stream's newline-delimited events until `count` arrived or the stream ends. */
async function watchEvents(url: string, count: number): Promise<Array<{ type: string; object: any }>> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  expect(response.status).toBe(200);
  const events: Array<{ type: string; object: any }> = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
    }
    if (events.length >= count) break;
  }
  controller.abort();
  return events;
}

describe('FakeKubeApi protocol', () => {
  it('serves discovery for the core API, groups and group versions', async () => {
    const api = await startApi({ networkingVersions: ['v1beta1'] });
    expect(await (await fetch(`${api.url}/api`)).json()).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await (await fetch(`${api.url}/apis`)).json()) as { groups: { name: string; versions: { version: string }[] }[] };
    expect(groups.groups.find((g) => g.name === 'networking.istio.io')?.versions.map((v) => v.version)).toEqual(['v1beta1']);
    const resources = (await (await fetch(`${api.url}/apis/networking.istio.io/v1beta1`)).json()) as { resources: { name: string; kind: string }[] };
    expect(resources.resources.map((r) => r.name)).toContain('virtualservices');
    expect((await fetch(`${api.url}/apis/networking.istio.io/v1/virtualservices`)).status).toBe(404);
  });

  it('lists with the collection resourceVersion and built-in items without apiVersion/kind', async () => {
    const api = await startApi();
    api.apply(namespace('shop'));
    api.apply(service('shop', 'cart'));
    const list = (await (await fetch(`${api.url}/api/v1/services`)).json()) as { kind: string; metadata: { resourceVersion: string }; items: any[] };
    expect(list.kind).toBe('ServiceList');
    expect(list.metadata.resourceVersion).toBe(String(api.resourceVersion));
    expect(list.items[0]).not.toHaveProperty('kind');
    expect(list.items[0].metadata).toMatchObject({ name: 'cart', namespace: 'shop', resourceVersion: expect.any(String) });
    api.compact();
    expect((await fetch(`${api.url}/api/v1/services?resourceVersion=1&resourceVersionMatch=Exact`)).status).toBe(410);
  });

  it('replays events after a resourceVersion, sends bookmarks, and expires compacted versions with an ERROR 410 event', async () => {
    const api = await startApi({ bookmarkIntervalMs: 20 });
    api.apply(namespace('shop'));
    const from = api.resourceVersion;
    api.apply(service('shop', 'cart'));
    api.remove('Service', 'shop', 'cart');
    const events = await watchEvents(`${api.url}/api/v1/services?watch=true&resourceVersion=${from}&allowWatchBookmarks=true`, 3);
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'BOOKMARK']);
    expect(events[2]!.object.metadata.resourceVersion).toBe(String(api.resourceVersion));
    api.compact();
    const expired = await watchEvents(`${api.url}/api/v1/services?watch=true&resourceVersion=${from}`, 1);
    expect(expired).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });

  it('answers 403 with the verb and resource, and injected 5xx for N requests', async () => {
    const api = await startApi();
    api.forbid('pods');
    const forbidden = (await (await fetch(`${api.url}/api/v1/pods?watch=true`)).json()) as { code: number; message: string };
    expect(forbidden).toMatchObject({ code: 403 });
    expect(forbidden.message).toContain('cannot watch resource "pods" in API group ""');
    api.failNext(2, 500);
    expect((await fetch(`${api.url}/api/v1/services`)).status).toBe(500);
    expect((await fetch(`${api.url}/api/v1/services`)).status).toBe(500);
    expect((await fetch(`${api.url}/api/v1/services`)).status).toBe(200);
  });

  it('refuses connections while closed and accepts them again on the same port', async () => {
    const api = await startApi();
    const port = api.port;
    await api.refuseConnections();
    await expect(fetch(`${api.url}/api`)).rejects.toThrow();
    await api.acceptConnections();
    expect(api.port).toBe(port);
    expect((await fetch(`${api.url}/api`)).status).toBe(200);
  });

  it('forwards the pod proxy subresource to the registered target, and answers 404 for an unknown pod or port', async () => {
    const api = await startApi();
    const seen: string[] = [];
    const target = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(req.url?.startsWith('/broken') ? 500 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => target.close(() => resolve())));
    api.apply(namespace('istio-system'));
    api.apply(pod('istio-system', 'istiod-1', { app: 'istiod' }, '10.0.0.9'));
    api.proxyPod('istio-system', 'istiod-1', 15014, `http://127.0.0.1:${(target.address() as AddressInfo).port}`);

    const ok = await fetch(`${api.url}/api/v1/namespaces/istio-system/pods/istiod-1:15014/proxy/debug/syncz?x=1`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ path: '/debug/syncz?x=1' });
    expect((await fetch(`${api.url}/api/v1/namespaces/istio-system/pods/istiod-1:15014/proxy/broken`)).status).toBe(500);
    expect(seen).toEqual(['GET /debug/syncz?x=1', 'GET /broken']);

    const noPod = await fetch(`${api.url}/api/v1/namespaces/istio-system/pods/istiod-2:15014/proxy/debug/syncz`);
    expect(noPod.status).toBe(404);
    expect(await noPod.json()).toMatchObject({ kind: 'Status', code: 404, message: 'pods "istiod-2" not found' });
    expect((await fetch(`${api.url}/api/v1/namespaces/istio-system/pods/istiod-1:8080/proxy/debug/syncz`)).status).toBe(404);
    expect(seen).toHaveLength(2);
  });

  it('updates only status through the status subresource (merge PATCH, PUT with 409 on a stale version) and emits MODIFIED', async () => {
    const api = await startApi();
    api.apply(namespace('shop'));
    const created = api.apply(virtualService('shop', 'cart', 'cart'));
    const from = api.resourceVersion;
    const statusUrl = `${api.url}/apis/networking.istio.io/v1/namespaces/shop/virtualservices/cart/status`;
    const patch = (body: unknown, type = 'application/merge-patch+json') =>
      fetch(statusUrl, { method: 'PATCH', headers: { 'Content-Type': type }, body: JSON.stringify(body) });

    const patched = await patch({ spec: { hosts: ['ignored'] }, status: { validationMessages: [{ type: { code: 'IST0101' } }], keep: 1 } });
    expect(patched.status).toBe(200);
    const stored = api.get('VirtualService', 'shop', 'cart')!;
    expect(stored.spec).toEqual(created.spec);
    expect(stored.status).toEqual({ validationMessages: [{ type: { code: 'IST0101' } }], keep: 1 });
    expect(Number(stored.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(stored.metadata.generation).toBe(1);

    expect((await patch({ status: { validationMessages: null } })).status).toBe(200);
    expect(api.get('VirtualService', 'shop', 'cart')!.status).toEqual({ keep: 1 });
    expect((await patch({ status: {} }, 'application/json-patch+json')).status).toBe(415);

    const stale = await fetch(statusUrl, { method: 'PUT', body: JSON.stringify({ ...stored, status: { replaced: true } }) });
    expect(stale.status).toBe(409);
    const current = api.get('VirtualService', 'shop', 'cart')!;
    const put = await fetch(statusUrl, { method: 'PUT', body: JSON.stringify({ ...current, spec: { hosts: ['ignored'] }, status: { replaced: true } }) });
    expect(put.status).toBe(200);
    expect(api.get('VirtualService', 'shop', 'cart')).toMatchObject({ spec: created.spec, status: { replaced: true } });
    expect(
      (
        await fetch(`${api.url}/apis/networking.istio.io/v1/namespaces/shop/virtualservices/missing/status`, {
          method: 'PUT',
          body: JSON.stringify({ ...current, metadata: { name: 'missing' } }),
        })
      ).status,
    ).toBe(404);

    const events = await watchEvents(`${api.url}/apis/networking.istio.io/v1/virtualservices?watch=true&resourceVersion=${from}`, 3);
    expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'MODIFIED']);
    expect(events[0]!.object.status.validationMessages).toEqual([{ type: { code: 'IST0101' } }]);
  });

  it('filters lists by an equality-based labelSelector and rejects what it cannot parse', async () => {
    const api = await startApi();
    api.apply(namespace('istio-system'));
    api.apply(pod('istio-system', 'istiod-1', { app: 'istiod', rev: 'a' }, '10.0.0.1'));
    api.apply(pod('istio-system', 'istiod-2', { app: 'istiod' }, '10.0.0.2'));
    api.apply(pod('istio-system', 'prometheus-0', { app: 'prometheus' }, '10.0.0.3'));
    const names = async (selector: string) => {
      const res = await fetch(`${api.url}/api/v1/namespaces/istio-system/pods?labelSelector=${encodeURIComponent(selector)}`);
      return res.status === 200
        ? ((await res.json()) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name).sort()
        : res.status;
    };
    expect(await names('app=istiod')).toEqual(['istiod-1', 'istiod-2']);
    expect(await names('app==istiod,rev')).toEqual(['istiod-1']);
    expect(await names('app!=istiod')).toEqual(['prometheus-0']);
    expect(await names('!rev')).toEqual(['istiod-2', 'prometheus-0']);
    expect(await names('')).toEqual(['istiod-1', 'istiod-2', 'prometheus-0']);
    expect(await names('app in (istiod)')).toBe(400);
  });
});
