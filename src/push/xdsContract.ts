// What the push pipeline, the generators and the ADS server share: xDS type
// URLs, encoded resources, subscriptions, push requests and the generator
// interface. It lives in the lowest layer that needs it (push builds push
// requests and names the types a change touches), as istiod keeps its
// generator interface in its model package; src/xds/resource.ts and
// src/xds/server/types.ts re-export it for the layers above.
import type { Proxy } from '../model/proxy.js';

export const TypeUrl = {
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** An xDS resource encoded once and shared by every proxy that receives it (built by src/xds/resource.ts). */
export interface XdsResource {
  readonly typeUrl: string;
  readonly name: string;
  /** Content hash of `any` (type URL and bytes): equal versions mean identical resources. */
  readonly version: string;
  /** The encoded google.protobuf.Any (type_url + value). */
  readonly any: Uint8Array;
}

/** What a proxy asked for on one type. */
export interface WatchedResource {
  readonly typeUrl: string;
  /** True for a wildcard subscription (LDS/CDS with no names, or `*`). */
  readonly wildcard: boolean;
  /** Explicitly subscribed names (empty for a pure wildcard subscription). */
  readonly names: ReadonlySet<string>;
  /**
   * Delta (incremental) xDS: the server tells the proxy that a named resource does not exist
   * (removed_resources), so generators leave such names out. A State of the World client cannot
   * be told, and is answered as istiod answers it (an EDS name of an unknown service or port gets an
   * empty ClusterLoadAssignment).
   */
  readonly incremental?: boolean;
}

/** One push, after the debouncer merged a burst of changes. */
export interface PushRequest {
  /** Push version, used as version_info of every response it causes. */
  readonly version: string;
  /** Types to regenerate; undefined means every watched type. */
  readonly types?: ReadonlySet<string>;
  /** Proxies the push concerns; undefined means every proxy. */
  affects?(proxy: Proxy): boolean;
  /** Why the push happened (object keys, "endpoints", ...), for logs and metrics. */
  readonly reason: readonly string[];
  /** Monotonic ms time of the first change merged into this push (convergence time). */
  readonly startedAt: number;
  /**
   * The generator's state this push was computed from (the pipeline's push context, like
   * istiod's PushRequest.Push), carried untouched so every response generated for the push
   * holds the content its `version` names, however late the stream gets to it.
   */
  readonly push?: unknown;
}

/** Produces resources of one type for one proxy. Pure: no I/O, no clocks. */
export interface ResourceGenerator {
  /**
   * The resources of `watched.typeUrl` this proxy should hold. For named
   * subscriptions only the named resources need returning (extra ones are
   * filtered out). Returns undefined for a type the generator does not serve.
   */
  generate(proxy: Proxy, watched: WatchedResource, request: PushRequest): readonly XdsResource[] | undefined;
}
