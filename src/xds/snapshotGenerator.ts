// A generator over explicitly set resources (go-control-plane's snapshot
// idea): the same resources for every proxy, or per-proxy overrides. Used by
// the load benchmark and the ADS protocol tests, and handy for embedding.
import type { Proxy } from '../model/proxy.js';
import type { XdsResource } from './resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from './server/types.js';

export class SnapshotGenerator implements ResourceGenerator {
  private readonly shared = new Map<string, Map<string, XdsResource>>();
  private readonly perProxy = new Map<string, Map<string, Map<string, XdsResource>>>();
  /** How many times generate() ran, to prove work is per push, not per byte. */
  generations = 0;

  constructor(private readonly servedTypes: ReadonlySet<string>) {}

  /** Replaces all resources of a type for every proxy. */
  setResources(typeUrl: string, resources: readonly XdsResource[]): void {
    this.shared.set(typeUrl, new Map(resources.map((r) => [r.name, r])));
  }

  upsert(resource: XdsResource): void {
    let byName = this.shared.get(resource.typeUrl);
    if (!byName) this.shared.set(resource.typeUrl, (byName = new Map<string, XdsResource>()));
    byName.set(resource.name, resource);
  }

  remove(typeUrl: string, name: string): void {
    this.shared.get(typeUrl)?.delete(name);
  }

  /** Resources only one proxy sees (replacing the shared ones of that type for it). */
  setProxyResources(proxyId: string, typeUrl: string, resources: readonly XdsResource[]): void {
    let byType = this.perProxy.get(proxyId);
    if (!byType) this.perProxy.set(proxyId, (byType = new Map<string, Map<string, XdsResource>>()));
    byType.set(typeUrl, new Map(resources.map((r) => [r.name, r])));
  }

  generate(proxy: Proxy, watched: WatchedResource, _request: PushRequest): readonly XdsResource[] | undefined {
    if (!this.servedTypes.has(watched.typeUrl)) return undefined;
    this.generations++;
    const byName = this.perProxy.get(proxy.id)?.get(watched.typeUrl) ?? this.shared.get(watched.typeUrl);
    if (!byName) return [];
    if (watched.wildcard) return [...byName.values()];
    const out: XdsResource[] = [];
    for (const name of watched.names) {
      const r = byName.get(name);
      if (r) out.push(r);
    }
    return out;
  }
}

/** A resource source over a SnapshotGenerator: always synced; push() announces changes. */
export class SnapshotSource {
  readonly generator: SnapshotGenerator;
  readonly synced = true;
  private readonly listeners: Array<(request: PushRequest) => void> = [];
  private pushes = 0;

  constructor(servedTypes: Iterable<string>) {
    this.generator = new SnapshotGenerator(new Set(servedTypes));
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  onPush(listener: (request: PushRequest) => void): void {
    this.listeners.push(listener);
  }

  /** Announces that resources of `types` changed (all types when omitted) for the proxies `affects` accepts. */
  push(types?: readonly string[], affects?: (proxy: Proxy) => boolean): PushRequest {
    const request: PushRequest = {
      version: `v${++this.pushes}`,
      ...(types ? { types: new Set(types) } : {}),
      ...(affects ? { affects } : {}),
      reason: ['snapshot'],
      startedAt: performance.now(),
    };
    this.listeners.forEach((l) => l(request));
    return request;
  }
}
