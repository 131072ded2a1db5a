// Simulated Envoys for the scale benchmark, in their own process (their CPU is
// not meshd's), driven over IPC by bench/scale.ts. Each proxy is one ADS stream
// (SotW or Delta) that does what Envoy does: CDS wildcard, then EDS for the EDS
// clusters received; LDS wildcard, then RDS for the route names the listeners
// name; an ACK for every response. 250 streams share one gRPC channel, each
// channel with its own subchannel pool, so channels are distinct TCP connections.
// Responses are decoded only as far as needed: headers, resource names, the
// EDS service names of clusters and the RDS names of listeners.
import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { lookupType } from '../src/proto/envoyRoot.js';
import { toStruct, type JsonValue } from '../src/proto/struct.js';
import { TypeUrl } from '../src/xds/resource.js';
import { sidecarNodeId, sidecarNodeMetadata } from './mesh.js';

export type Protocol = 'sotw' | 'delta';

/** A change has reached a proxy when it ACKs a response of `typeUrl` holding resource `name` (whose bytes contain `contains`). */
export interface Marker {
  typeUrl: string;
  name: string;
  contains?: string;
}

/** One response as proxy 0 received it: what the floor server replays. */
export interface RecordedResponse {
  typeUrl: string;
  resources: Array<{ name: string; version: string; any: string }>;
  removed: string[];
}

export type SimCommand =
  | { cmd: 'connect'; address: string; proxies: number; protocol: Protocol; streamsPerChannel: number }
  | { cmd: 'expect'; id: number; markers: Marker[] }
  | { cmd: 'quiet'; id: number; quietMs: number; timeoutMs: number }
  | { cmd: 'phase'; name: string }
  | { cmd: 'saveRecording'; id: number; path: string }
  | { cmd: 'stats'; id: number }
  | { cmd: 'close' };

export type SimEvent =
  | { event: 'ready' }
  | { event: 'synced'; at: number }
  | { event: 'expecting'; id: number }
  /** Every proxy ACKed every marker; `proxies` counts those that did (all of them). */
  | { event: 'done'; id: number; lastAckAt: number; proxies: number }
  | { event: 'progress'; id: number; waiting: number; example: string }
  | { event: 'quiet'; id: number; ok: boolean; message?: string }
  | { event: 'saved'; id: number }
  | { event: 'stats'; id: number; responses: number; bytes: number; streamErrors: number; lastError: string; rssMb: number }
  | { event: 'error'; message: string };

const now = (): number => performance.timeOrigin + performance.now();
const send = (event: SimEvent): void => void process.send?.(event);

// Field numbers, from the protos themselves.
const fieldId = (type: string, field: string): number => {
  const f = lookupType(type).fields[field];
  if (!f) throw new Error(`${type} has no field ${field}`);
  return f.id;
};
const F = {
  sotwVersion: fieldId('envoy.service.discovery.v3.DiscoveryResponse', 'versionInfo'),
  sotwResources: fieldId('envoy.service.discovery.v3.DiscoveryResponse', 'resources'),
  sotwTypeUrl: fieldId('envoy.service.discovery.v3.DiscoveryResponse', 'typeUrl'),
  sotwNonce: fieldId('envoy.service.discovery.v3.DiscoveryResponse', 'nonce'),
  deltaVersion: fieldId('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'systemVersionInfo'),
  deltaResources: fieldId('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'resources'),
  deltaTypeUrl: fieldId('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'typeUrl'),
  deltaNonce: fieldId('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'nonce'),
  deltaRemoved: fieldId('envoy.service.discovery.v3.DeltaDiscoveryResponse', 'removedResources'),
  resourceVersion: fieldId('envoy.service.discovery.v3.Resource', 'version'),
  resourceAny: fieldId('envoy.service.discovery.v3.Resource', 'resource'),
  resourceName: fieldId('envoy.service.discovery.v3.Resource', 'name'),
  anyTypeUrl: fieldId('google.protobuf.Any', 'type_url'),
  anyValue: fieldId('google.protobuf.Any', 'value'),
  clusterName: fieldId('envoy.config.cluster.v3.Cluster', 'name'),
  clusterType: fieldId('envoy.config.cluster.v3.Cluster', 'type'),
  clusterEds: fieldId('envoy.config.cluster.v3.Cluster', 'edsClusterConfig'),
  edsServiceName: fieldId('envoy.config.cluster.v3.Cluster.EdsClusterConfig', 'serviceName'),
  listenerChains: fieldId('envoy.config.listener.v3.Listener', 'filterChains'),
  listenerDefaultChain: fieldId('envoy.config.listener.v3.Listener', 'defaultFilterChain'),
  chainFilters: fieldId('envoy.config.listener.v3.FilterChain', 'filters'),
  filterTypedConfig: fieldId('envoy.config.listener.v3.Filter', 'typedConfig'),
  hcmRds: fieldId('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', 'rds'),
  rdsName: fieldId('envoy.extensions.filters.network.http_connection_manager.v3.Rds', 'routeConfigName'),
};
const edsType = lookupType('envoy.config.cluster.v3.Cluster').lookupEnum('DiscoveryType').values.EDS!;
const hcmTypeUrl = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Calls `visit(field, reader)` for each field of a message; the visitor must consume the field or return false to skip it. */
function fields(bytes: Uint8Array, visit: (field: number, wire: number, r: protobuf.Reader) => boolean): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (!visit(tag >>> 3, tag & 7, r)) r.skipType(tag & 7);
  }
}

interface Resource {
  name: string;
  version: string;
  /** The encoded google.protobuf.Any. */
  any: Uint8Array;
}

interface Response {
  version: string;
  typeUrl: string;
  nonce: string;
  resources: Resource[];
  removed: string[];
}

const anyValue = (any: Uint8Array): Uint8Array => {
  let value: Uint8Array = new Uint8Array();
  fields(any, (f, _w, r) => (f === F.anyValue ? ((value = r.bytes()), true) : false));
  return value;
};
const anyTypeUrl = (any: Uint8Array): string => {
  let url = '';
  fields(any, (f, _w, r) => (f === F.anyTypeUrl ? ((url = r.string()), true) : false));
  return url;
};
/** Cluster, Listener, RouteConfiguration and ClusterLoadAssignment all carry their name in field 1. */
const nameOf = (message: Uint8Array): string => {
  let name = '';
  fields(message, (f, w, r) => (f === 1 && w === 2 ? ((name = r.string()), true) : false));
  return name;
};

function decodeResponse(bytes: Uint8Array, protocol: Protocol): Response {
  const out: Response = { version: '', typeUrl: '', nonce: '', resources: [], removed: [] };
  if (protocol === 'sotw') {
    fields(bytes, (f, _w, r) => {
      if (f === F.sotwVersion) out.version = r.string();
      else if (f === F.sotwTypeUrl) out.typeUrl = r.string();
      else if (f === F.sotwNonce) out.nonce = r.string();
      else if (f === F.sotwResources) {
        const any = r.bytes();
        out.resources.push({ name: nameOf(anyValue(any)), version: '', any });
      } else return false;
      return true;
    });
  } else {
    fields(bytes, (f, _w, r) => {
      if (f === F.deltaVersion) out.version = r.string();
      else if (f === F.deltaTypeUrl) out.typeUrl = r.string();
      else if (f === F.deltaNonce) out.nonce = r.string();
      else if (f === F.deltaRemoved) out.removed.push(r.string());
      else if (f === F.deltaResources) {
        const resource: Resource = { name: '', version: '', any: new Uint8Array() };
        fields(r.bytes(), (g, _w2, rr) => {
          if (g === F.resourceName) resource.name = rr.string();
          else if (g === F.resourceVersion) resource.version = rr.string();
          else if (g === F.resourceAny) resource.any = rr.bytes();
          else return false;
          return true;
        });
        out.resources.push(resource);
      } else return false;
      return true;
    });
  }
  return out;
}

/** The EDS name Envoy subscribes to for a cluster, or undefined for a cluster not of type EDS. */
function edsNameOf(clusterAny: Uint8Array): string | undefined {
  let name = '';
  let type = 0;
  let serviceName = '';
  fields(anyValue(clusterAny), (f, _w, r) => {
    if (f === F.clusterName) name = r.string();
    else if (f === F.clusterType) type = r.int32();
    else if (f === F.clusterEds) fields(r.bytes(), (g, _w2, rr) => (g === F.edsServiceName ? ((serviceName = rr.string()), true) : false));
    else return false;
    return true;
  });
  return type === edsType ? serviceName || name : undefined;
}

/** The route configuration names a listener's HTTP connection managers ask RDS for. */
function rdsNamesOf(listenerAny: Uint8Array): string[] {
  const names: string[] = [];
  const chain = (bytes: Uint8Array): void =>
    fields(bytes, (f, _w, r) => {
      if (f !== F.chainFilters) return false;
      fields(r.bytes(), (g, _w2, rr) => {
        if (g !== F.filterTypedConfig) return false;
        const typed = rr.bytes();
        if (anyTypeUrl(typed) !== hcmTypeUrl) return true;
        fields(anyValue(typed), (h, _w3, r3) => {
          if (h !== F.hcmRds) return false;
          fields(r3.bytes(), (k, _w4, r4) => (k === F.rdsName ? (names.push(r4.string()), true) : false));
          return true;
        });
        return true;
      });
      return true;
    });
  fields(anyValue(listenerAny), (f, _w, r) => (f === F.listenerChains || f === F.listenerDefaultChain ? (chain(r.bytes()), true) : false));
  return names;
}

/** A set of names shared by every proxy that holds the same one (2,000 proxies, one scope, one copy). */
interface NameSet {
  id: number;
  list: readonly string[];
  set: ReadonlySet<string>;
}
const nameSets = new Map<string, NameSet>();
const emptyNames: NameSet = { id: 0, list: [], set: new Set() };
function internNames(names: readonly string[]): NameSet {
  const sorted = [...new Set(names)].sort();
  const key = sorted.join('\n');
  let found = nameSets.get(key);
  if (!found) {
    found = { id: nameSets.size + 1, list: sorted, set: new Set(sorted) };
    nameSets.set(key, found);
  }
  return found;
}

const requestType = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const deltaRequestType = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const encode = (type: protobuf.Type, message: Record<string, unknown>): Buffer => Buffer.from(type.encode(type.fromObject(message)).finish());

/** Where a proxy stands on one dependent type (EDS or RDS). */
interface Dependent {
  names: NameSet;
  /** The nonce of the last response of this type (SotW requests must carry it). */
  nonce: string;
  version: string;
  /** A request was sent and its answer not received yet. */
  awaiting: boolean;
}

interface Expectation {
  id: number;
  markers: Marker[];
  /** Per proxy: markers not yet ACKed. */
  remaining: Array<Set<number>>;
  waiting: number;
  lastAckAt: number;
}

class Sim {
  readonly proxies: SimProxy[] = [];
  private channels: grpc.Client[] = [];
  private synced = 0;
  private syncReported = false;
  expectation: Expectation | undefined;
  responses = 0;
  bytes = 0;
  streamErrors = 0;
  lastError = '';
  lastResponseAt = 0;
  phase = 'initial';
  readonly recording: Array<RecordedResponse & { phase: string }> = [];

  constructor(readonly protocol: Protocol) {}

  connect(address: string, count: number, streamsPerChannel: number): void {
    const channelCount = Math.ceil(count / streamsPerChannel);
    this.channels = Array.from(
      { length: channelCount },
      () =>
        new grpc.Client(address, grpc.credentials.createInsecure(), {
          // Without it grpc-js puts every channel with the same options on one TCP connection.
          'grpc.use_local_subchannel_pool': 1,
          'grpc.max_receive_message_length': 512 * 1024 * 1024,
        }),
    );
    for (let i = 0; i < count; i++) this.proxies.push(new SimProxy(this, i, this.channels[Math.floor(i / streamsPerChannel)]!));
  }

  proxySynced(): void {
    if (++this.synced === this.proxies.length && !this.syncReported) {
      this.syncReported = true;
      send({ event: 'synced', at: now() });
    }
  }

  expect(id: number, markers: Marker[]): void {
    const remaining = this.proxies.map(() => new Set(markers.map((_, i) => i)));
    this.expectation = { id, markers, remaining, waiting: this.proxies.length * markers.length, lastAckAt: 0 };
    send({ event: 'expecting', id });
  }

  /** Called after proxy `index` ACKed `response`: counts the markers it carried. */
  acked(index: number, response: Response, at: number): void {
    const e = this.expectation;
    if (!e) return;
    const left = e.remaining[index]!;
    if (left.size === 0) return;
    for (const m of [...left]) {
      const marker = e.markers[m]!;
      if (marker.typeUrl !== response.typeUrl) continue;
      const resource = response.resources.find((r) => r.name === marker.name);
      if (!resource) continue;
      if (marker.contains !== undefined && Buffer.from(resource.any.buffer, resource.any.byteOffset, resource.any.byteLength).indexOf(marker.contains) < 0)
        continue;
      left.delete(m);
      e.lastAckAt = Math.max(e.lastAckAt, at);
      if (--e.waiting === 0) {
        this.expectation = undefined;
        send({ event: 'done', id: e.id, lastAckAt: e.lastAckAt, proxies: e.remaining.filter((r) => r.size === 0).length });
      }
    }
  }

  progress(): void {
    const e = this.expectation;
    if (!e) return;
    const stuck = e.remaining.findIndex((s) => s.size > 0);
    const example = stuck < 0 ? '' : `proxy ${stuck} still lacks ${[...e.remaining[stuck]!].map((m) => JSON.stringify(e.markers[m])).join(', ')}`;
    send({ event: 'progress', id: e.id, waiting: e.waiting, example });
  }

  record(response: Response): void {
    this.recording.push({
      phase: this.phase,
      typeUrl: response.typeUrl,
      resources: response.resources.map((r) => ({ name: r.name, version: r.version, any: Buffer.from(r.any).toString('base64') })),
      removed: response.removed,
    });
  }

  close(): void {
    for (const p of this.proxies) p.close();
    for (const c of this.channels) c.close();
  }
}

class SimProxy {
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private nodeSent = false;
  private readonly acked = new Set<string>();
  private readonly eds: Dependent = { names: emptyNames, nonce: '', version: '', awaiting: false };
  private readonly rds: Dependent = { names: emptyNames, nonce: '', version: '', awaiting: false };
  /** Delta: cluster and listener names held, to know the EDS/RDS names they imply. */
  private clusters: NameSet = emptyNames;
  private listeners: NameSet = emptyNames;
  private synced = false;

  constructor(
    private readonly sim: Sim,
    readonly index: number,
    channel: grpc.Client,
  ) {
    const method = sim.protocol === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    this.call = channel.makeBidiStreamRequest(
      `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    this.call.on('data', (bytes: Buffer) => this.onResponse(bytes));
    this.call.on('error', (err: Error) => {
      sim.streamErrors++;
      sim.lastError = `proxy ${index}: ${err.message}`;
    });
    // Envoy's order: CDS and LDS wildcard first.
    this.request(TypeUrl.Cluster, {});
    this.request(TypeUrl.Listener, {});
  }

  close(): void {
    this.call.cancel();
  }

  private request(
    typeUrl: string,
    opts: { names?: readonly string[]; version?: string; nonce?: string; subscribe?: readonly string[]; unsubscribe?: readonly string[] },
  ): void {
    const node = this.nodeSent
      ? undefined
      : {
          id: sidecarNodeId(this.index),
          cluster: 'client.ns-0',
          metadata: toStruct(sidecarNodeMetadata(this.index) as { [key: string]: JsonValue }),
          userAgentName: 'envoy',
        };
    this.nodeSent = true;
    const message =
      this.sim.protocol === 'sotw'
        ? encode(requestType, {
            ...(node ? { node } : {}),
            typeUrl,
            versionInfo: opts.version ?? '',
            responseNonce: opts.nonce ?? '',
            resourceNames: opts.names ?? [],
          })
        : encode(deltaRequestType, {
            ...(node ? { node } : {}),
            typeUrl,
            responseNonce: opts.nonce ?? '',
            resourceNamesSubscribe: opts.subscribe ?? [],
            resourceNamesUnsubscribe: opts.unsubscribe ?? [],
          });
    this.call.write(message);
  }

  private onResponse(bytes: Buffer): void {
    const sim = this.sim;
    sim.responses++;
    sim.bytes += bytes.length;
    sim.lastResponseAt = now();
    const response = decodeResponse(bytes, sim.protocol);
    if (this.index === 0) sim.record(response);
    const dependent = response.typeUrl === TypeUrl.ClusterLoadAssignment ? this.eds : response.typeUrl === TypeUrl.RouteConfiguration ? this.rds : undefined;
    if (dependent) {
      dependent.nonce = response.nonce;
      dependent.version = response.version;
      dependent.awaiting = false;
    }
    // The ACK: SotW repeats the names subscribed; Delta only names the nonce.
    if (sim.protocol === 'sotw') this.request(response.typeUrl, { version: response.version, nonce: response.nonce, names: dependent?.names.list ?? [] });
    else this.request(response.typeUrl, { nonce: response.nonce });
    sim.acked(this.index, response, now());
    this.acked.add(response.typeUrl);
    if (response.typeUrl === TypeUrl.Cluster)
      this.follow(response, TypeUrl.ClusterLoadAssignment, this.eds, (any) => {
        const name = edsNameOf(any);
        return name === undefined ? [] : [name];
      });
    else if (response.typeUrl === TypeUrl.Listener) this.follow(response, TypeUrl.RouteConfiguration, this.rds, rdsNamesOf);
    if (!this.synced && this.acked.size === 4 && !this.eds.awaiting && !this.rds.awaiting) {
      this.synced = true;
      sim.proxySynced();
    } else if (
      !this.synced &&
      this.acked.has(TypeUrl.Cluster) &&
      this.acked.has(TypeUrl.Listener) &&
      this.eds.names === emptyNames &&
      this.rds.names === emptyNames
    ) {
      // Nothing to subscribe to: synced with CDS and LDS alone.
      this.synced = true;
      sim.proxySynced();
    }
  }

  /** After a CDS (LDS) response: subscribe EDS (RDS) to the names the held clusters (listeners) imply. */
  private follow(response: Response, typeUrl: string, dependent: Dependent, namesOf: (any: Uint8Array) => string[]): void {
    let next: NameSet;
    if (this.sim.protocol === 'sotw') {
      next = internNames(response.resources.flatMap((r) => namesOf(r.any)));
    } else {
      // Delta responses carry changes: fold them into the names held.
      const heldKey = typeUrl === TypeUrl.ClusterLoadAssignment ? 'clusters' : 'listeners';
      const held = this[heldKey];
      const removed = new Set(response.removed);
      const kept = held.list.filter((n) => !removed.has(n));
      const changed = new Set(response.resources.map((r) => r.name));
      // Names implied by held resources are memoised globally (every proxy sees the same resources).
      for (const r of response.resources) impliedNames.set(`${typeUrl}|${r.name}`, namesOf(r.any));
      this[heldKey] = internNames([...kept, ...changed]);
      next = internNames(this[heldKey].list.flatMap((n) => impliedNames.get(`${typeUrl}|${n}`) ?? []));
    }
    const before = dependent.names;
    if (next === before) return;
    dependent.names = next;
    dependent.awaiting = next.list.length > 0;
    if (this.sim.protocol === 'sotw') {
      this.request(typeUrl, { names: next.list, version: dependent.version, nonce: dependent.nonce });
    } else {
      const subscribe = next.list.filter((n) => !before.set.has(n));
      const unsubscribe = before.list.filter((n) => !next.set.has(n));
      // Only new names get an answer; a pure unsubscribe is not awaited.
      dependent.awaiting = subscribe.length > 0;
      this.request(typeUrl, { subscribe, unsubscribe });
    }
  }
}

const impliedNames = new Map<string, string[]>();

function main(): void {
  let sim: Sim | undefined;
  const fail = (err: unknown): void => send({ event: 'error', message: (err as Error).stack ?? String(err) });
  process.on('uncaughtException', fail);
  process.on('message', (m: SimCommand) => {
    try {
      if (m.cmd === 'connect') {
        sim = new Sim(m.protocol);
        sim.connect(m.address, m.proxies, m.streamsPerChannel);
      } else if (m.cmd === 'expect') sim!.expect(m.id, m.markers);
      else if (m.cmd === 'phase') sim!.phase = m.name;
      else if (m.cmd === 'quiet') {
        const started = now();
        const poll = (): void => {
          const t = now();
          if (t - sim!.lastResponseAt >= m.quietMs) send({ event: 'quiet', id: m.id, ok: true });
          else if (t - started > m.timeoutMs) send({ event: 'quiet', id: m.id, ok: false, message: `responses kept arriving for ${m.timeoutMs} ms` });
          else setTimeout(poll, 25);
        };
        poll();
      } else if (m.cmd === 'saveRecording') {
        writeFileSync(m.path, JSON.stringify({ protocol: sim!.protocol, responses: sim!.recording }));
        send({ event: 'saved', id: m.id });
      } else if (m.cmd === 'stats') {
        sim?.progress();
        send({
          event: 'stats',
          id: m.id,
          responses: sim?.responses ?? 0,
          bytes: sim?.bytes ?? 0,
          streamErrors: sim?.streamErrors ?? 0,
          lastError: sim?.lastError ?? '',
          rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
        });
      } else if (m.cmd === 'close') {
        sim?.close();
        process.exit(0);
      }
    } catch (err) {
      fail(err);
    }
  });
  // The driver going away ends the simulation too.
  process.on('disconnect', () => process.exit(0));
  // Protos loaded: connecting from now on measures meshd, not this process starting.
  send({ event: 'ready' });
}

main();
