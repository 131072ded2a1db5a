// The fake API server itself speaks the protocol the informers rely on; these
// checks keep it honest with raw HTTP, independent of client-node.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { namespace, service } from '../support/fakeKubeApiHelpers.js';

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
});
