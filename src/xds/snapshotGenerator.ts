// A generator over explicitly set resources (go-control-plane's snapshot
// idea): the same resources for every proxy, or per-proxy overrides. Used by
// the load benchmark and the ADS protocol tests, and handy for embedding.
import type { Proxy } from '../model/proxy.js';
import type { XdsResource } from './resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from './server/types.js';

/** The resources at one moment: what a push request pins (the maps inside are never modified). */
class SnapshotState {
  constructor(
    readonly shared: ReadonlyMap<string, ReadonlyMap<string, XdsResource>>,
    readonly perProxy: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, XdsResource>>>,
  ) {}
}

/** The wildcard answer per resource map: one array for every proxy asking, as the mesh generators share a scope's. */
const everyResource = new WeakMap<ReadonlyMap<string, XdsResource>, readonly XdsResource[]>();
/** The answer per resource map and (shared) name set, likewise. */
const namedResources = new WeakMap<ReadonlyMap<string, XdsResource>, WeakMap<ReadonlySet<string>, readonly XdsResource[]>>();

export class SnapshotGenerator implements ResourceGenerator {
  // Copy on write: a state pinned by a push keeps seeing its own maps.
  private shared = new Map<string, ReadonlyMap<string, XdsResource>>();
  private perProxy = new Map<string, Map<string, ReadonlyMap<string, XdsResource>>>();
  /** How many times generate() ran, to prove work is per push, not per byte. */
  generations = 0;

  constructor(private readonly servedTypes: ReadonlySet<string>) {}

  /** Replaces all resources of a type for every proxy. */
  setResources(typeUrl: string, resources: readonly XdsResource[]): void {
    this.shared = new Map(this.shared).set(typeUrl, new Map(resources.map((r) => [r.name, r])));
  }

  upsert(resource: XdsResource): void {
    const byName = new Map(this.shared.get(resource.typeUrl) ?? []).set(resource.name, resource);
    this.shared = new Map(this.shared).set(resource.typeUrl, byName);
  }

  remove(typeUrl: string, name: string): void {
    const byName = new Map(this.shared.get(typeUrl) ?? []);
    byName.delete(name);
    this.shared = new Map(this.shared).set(typeUrl, byName);
  }

  /** Resources only one proxy sees (replacing the shared ones of that type for it). */
  setProxyResources(proxyId: string, typeUrl: string, resources: readonly XdsResource[]): void {
    const byType = new Map(this.perProxy.get(proxyId) ?? []).set(typeUrl, new Map(resources.map((r) => [r.name, r])));
    this.perProxy = new Map(this.perProxy).set(proxyId, byType);
  }

  /** The resources as they are now, for a push to pin. */
  state(): SnapshotState {
    return new SnapshotState(this.shared, this.perProxy);
  }

  generate(proxy: Proxy, watched: WatchedResource, request?: PushRequest): readonly XdsResource[] | undefined {
    if (!this.servedTypes.has(watched.typeUrl)) return undefined;
    this.generations++;
    // The state the push pinned, so a response holds what its version names.
    const state = request?.push instanceof SnapshotState ? request.push : this.state();
    const byName = state.perProxy.get(proxy.id)?.get(watched.typeUrl) ?? state.shared.get(watched.typeUrl);
    if (!byName) return [];
    if (watched.wildcard) {
      let all = everyResource.get(byName);
      if (!all) everyResource.set(byName, (all = [...byName.values()]));
      return all;
    }
    let byNames = namedResources.get(byName);
    if (!byNames) namedResources.set(byName, (byNames = new WeakMap()));
    let named = byNames.get(watched.names);
    if (!named) byNames.set(watched.names, (named = [...watched.names].flatMap((name) => byName.get(name) ?? [])));
    return named;
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
      push: this.generator.state(),
    };
    this.listeners.forEach((l) => l(request));
    return request;
  }
}
