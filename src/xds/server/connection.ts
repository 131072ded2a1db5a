// One ADS stream (State of the World or Delta) and Envoy's protocol rules on it:
// per-type nonces and versions, ACK/NACK, wildcard and named subscriptions.
// Requests and pushes run one at a time per stream, in arrival order.
import * as grpc from '@grpc/grpc-js';
import { NodeIdError, type Proxy } from '../../model/proxy.js';
import { wildcardTypes, type XdsResource } from '../resource.js';
import type { ConnectionInfo, XdsServerEvents } from './events.js';
import { drained } from './grpcServer.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from './types.js';
import {
  decodeDeltaRequest, decodeSotwRequest, encodeDeltaResponse, encodeSotwResponse,
  type DecodedNode, type DeltaRequest, type SotwRequest,
} from './wire.js';

/** What the server gives each stream. */
export interface ConnectionHost {
  readonly generator: ResourceGenerator;
  readonly events: XdsServerEvents;
  readonly controlPlane: string;
  nextNonce(): string;
  /** The request used to answer a proxy's own request (not a push). */
  requestForProxyRequest(): PushRequest;
  /** Builds the proxy from its node (parseProxy plus whatever the host knows, e.g. its pod). */
  describeProxy(node: DecodedNode): Proxy;
  identified(conn: AdsConnection): void;
  closed(conn: AdsConnection): void;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void; info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** Per-type protocol state of one stream. */
interface TypeWatch extends WatchedResource {
  wildcard: boolean;
  names: Set<string>;
  /** name → version the proxy holds, as far as this server knows. */
  held: Map<string, string>;
  sentNonce: string;
  sentVersion: string;
  sentPushStartedAt: number;
  ackedNonce: string;
  nackedNonce: string;
}

/** Order Envoy wants: clusters before their endpoints, listeners before their routes. */
const pushOrder = [
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
];
const orderOf = (typeUrl: string): number => {
  const i = pushOrder.indexOf(typeUrl);
  return i < 0 ? pushOrder.length : i;
};

type Call = grpc.ServerDuplexStream<Buffer, Buffer>;
type RespondMode = 'full' | 'changed';

let connectionCounter = 0;

export class AdsConnection implements ConnectionInfo {
  connectionId = '';
  proxy!: Proxy;
  readonly connectedAt = Date.now();
  private readonly watches = new Map<string, TypeWatch>();
  private readonly unknownTypesLogged = new Set<string>();
  /** Generation failures already logged on this stream (type URL and message), so a failing push logs once. */
  private readonly generationFailuresLogged = new Set<string>();
  private work: Promise<void> = Promise.resolve();
  private open = true;

  constructor(
    private readonly host: ConnectionHost,
    readonly protocol: 'sotw' | 'delta',
    private readonly call: Call,
    readonly peerAddress: string,
  ) {
    call.on('data', (bytes: Buffer) => void this.enqueue(() => this.onRequestBytes(bytes))); // enqueue never rejects
    call.on('end', () => this.finish(grpc.status.OK, 'client closed the stream'));
    call.on('cancelled', () => this.shutdown());
    call.on('error', () => this.shutdown());
    call.on('close', () => this.shutdown());
  }

  get isOpen(): boolean {
    return this.open;
  }

  get identified(): boolean {
    return this.connectionId !== '';
  }

  /** Types and names this stream watches, for push decisions. */
  watchedTypes(): string[] {
    return [...this.watches.keys()];
  }

  /** Regenerates the types a push concerns and sends what changed. */
  push(request: PushRequest): Promise<void> {
    return this.enqueue(async () => {
      const types = [...this.watches.keys()].sort((a, b) => orderOf(a) - orderOf(b));
      for (const typeUrl of types) {
        if (request.types && !request.types.has(typeUrl)) continue;
        const watch = this.watches.get(typeUrl);
        if (watch && this.open) await this.respond(watch, request, 'changed');
      }
    });
  }

  /** What this proxy would be sent now for each watched type (the debug API's STALE explanation). */
  preview(request: PushRequest): Map<string, readonly XdsResource[]> {
    const out = new Map<string, readonly XdsResource[]>();
    for (const watch of this.watches.values()) {
      const generated = this.host.generator.generate(this.proxy, watch, request);
      if (generated) out.set(watch.typeUrl, watch.wildcard ? generated : generated.filter((r) => watch.names.has(r.name)));
    }
    return out;
  }

  /** Replaces the proxy description (its pod's labels changed) without touching protocol state. */
  updateProxy(proxy: Proxy): void {
    this.proxy = proxy;
  }

  /** Ends the stream with a status; the proxy reconnects (to this or another replica). */
  finish(code: grpc.status, details: string): void {
    if (!this.open) return;
    this.shutdown();
    try {
      if (code === grpc.status.OK) this.call.end();
      else this.call.emit('error', { code, details });
    } catch {
      // The transport is already gone.
    }
  }

  private shutdown(): void {
    if (!this.open) return;
    this.open = false;
    this.host.closed(this);
    if (this.identified) this.host.events.streamClosed?.(this);
  }

  private enqueue(task: () => Promise<void> | void): Promise<void> {
    this.work = this.work.then(task).catch((err: unknown) => {
      this.host.log.warn({ err, connection: this.connectionId }, 'ADS stream task failed');
      this.finish(grpc.status.INTERNAL, `internal error: ${(err as Error).message}`);
    });
    return this.work;
  }

  private onRequestBytes(bytes: Buffer): Promise<void> | void {
    if (!this.open) return;
    let request: SotwRequest | DeltaRequest;
    try {
      request = this.protocol === 'sotw' ? decodeSotwRequest(bytes) : decodeDeltaRequest(bytes);
    } catch (err) {
      const reason = `malformed ${this.protocol === 'sotw' ? 'DiscoveryRequest' : 'DeltaDiscoveryRequest'}: ${(err as Error).message}`;
      this.host.events.badRequest?.(this.identified ? this : undefined, reason);
      this.finish(grpc.status.INVALID_ARGUMENT, reason);
      return;
    }
    if (!this.identified && !this.identify(request.node)) return;
    if (!request.typeUrl) {
      this.host.events.badRequest?.(this, 'request without type_url ignored');
      this.logOnce('', 'request without type_url ignored');
      return;
    }
    return this.protocol === 'sotw' ? this.onSotwRequest(request as SotwRequest) : this.onDeltaRequest(request as DeltaRequest);
  }

  /** The first request must carry a node with a valid id; otherwise the stream ends. */
  private identify(node: DecodedNode | undefined): boolean {
    if (!node || !node.id) {
      const reason = 'first request on an ADS stream must carry node with an id';
      this.host.events.badRequest?.(undefined, reason);
      this.finish(grpc.status.INVALID_ARGUMENT, reason);
      return false;
    }
    try {
      this.proxy = this.host.describeProxy(node);
    } catch (err) {
      if (!(err instanceof NodeIdError)) throw err;
      const reason = `invalid node: ${err.message}`;
      this.host.events.badRequest?.(undefined, reason);
      this.finish(grpc.status.INVALID_ARGUMENT, reason);
      return false;
    }
    this.connectionId = `${this.proxy.id}-${++connectionCounter}`;
    this.host.identified(this);
    this.host.events.streamOpened?.(this);
    return true;
  }

  private async onSotwRequest(req: SotwRequest): Promise<void> {
    const watch = this.watches.get(req.typeUrl);
    if (req.errorDetail) {
      this.recordNack(watch, req.typeUrl, req.responseNonce, req.errorDetail.message);
      return;
    }
    const wildcardType = wildcardTypes.has(req.typeUrl);
    const names = req.resourceNames.filter((n) => n !== '*');
    const wantsWildcard = wildcardType && (req.resourceNames.length === 0 || req.resourceNames.includes('*'));
    if (!watch || req.responseNonce === '') {
      // A new subscription, or the proxy re-requesting after reconnecting to this stream.
      const fresh = this.newWatch(req.typeUrl, wantsWildcard, names, {});
      this.watches.set(req.typeUrl, fresh);
      if (!(await this.respond(fresh, this.host.requestForProxyRequest(), 'full'))) this.watches.delete(req.typeUrl);
      return;
    }
    if (req.responseNonce !== watch.sentNonce) {
      this.host.log.debug({ connection: this.connectionId, typeUrl: req.typeUrl, nonce: req.responseNonce }, 'stale nonce ignored');
      return;
    }
    this.recordAck(watch, req.responseNonce);
    const before = watch.names;
    const after = new Set(names);
    const added = [...after].filter((n) => !before.has(n));
    const removed = [...before].filter((n) => !after.has(n));
    const wildcardChanged = watch.wildcard !== wantsWildcard;
    if (added.length === 0 && removed.length === 0 && !wildcardChanged) return;
    watch.names = after;
    watch.wildcard = wantsWildcard;
    if (removed.length > 0) {
      for (const n of removed) watch.held.delete(n);
      this.host.events.unsubscribed?.(this, req.typeUrl, removed);
    }
    if (added.length > 0 || (wildcardChanged && wantsWildcard)) {
      await this.respond(watch, this.host.requestForProxyRequest(), 'full');
    }
  }

  private async onDeltaRequest(req: DeltaRequest): Promise<void> {
    let watch = this.watches.get(req.typeUrl);
    if (req.errorDetail) {
      this.recordNack(watch, req.typeUrl, req.responseNonce, req.errorDetail.message);
      return;
    }
    if (!watch) {
      const wildcard = (wildcardTypes.has(req.typeUrl) && req.subscribe.length === 0) || req.subscribe.includes('*');
      const names = req.subscribe.filter((n) => n !== '*');
      watch = this.newWatch(req.typeUrl, wildcard, names, req.initialResourceVersions);
      this.watches.set(req.typeUrl, watch);
      if (!(await this.respond(watch, this.host.requestForProxyRequest(), 'full'))) this.watches.delete(req.typeUrl);
      return;
    }
    if (req.responseNonce) {
      if (req.responseNonce === watch.sentNonce) this.recordAck(watch, req.responseNonce);
      else this.host.log.debug({ connection: this.connectionId, typeUrl: req.typeUrl, nonce: req.responseNonce }, 'stale nonce');
    }
    // Subscription changes are honoured whatever the nonce says.
    const unsubscribed: string[] = [];
    for (const name of req.unsubscribe) {
      if (name === '*') {
        watch.wildcard = false;
        continue;
      }
      if (watch.names.delete(name)) unsubscribed.push(name);
      watch.held.delete(name);
    }
    if (unsubscribed.length > 0) this.host.events.unsubscribed?.(this, req.typeUrl, unsubscribed);
    let subscribedSomething = false;
    for (const name of req.subscribe) {
      if (name === '*') {
        subscribedSomething ||= !watch.wildcard;
        watch.wildcard = true;
      } else if (!watch.names.has(name)) {
        watch.names.add(name);
        subscribedSomething = true;
      }
    }
    if (subscribedSomething) await this.respond(watch, this.host.requestForProxyRequest(), 'changed');
  }

  private newWatch(typeUrl: string, wildcard: boolean, names: readonly string[], held: Record<string, string>): TypeWatch {
    return {
      typeUrl, wildcard, names: new Set(names), held: new Map(Object.entries(held)),
      sentNonce: '', sentVersion: '', sentPushStartedAt: 0, ackedNonce: '', nackedNonce: '',
    };
  }

  private recordAck(watch: TypeWatch, nonce: string): void {
    if (watch.ackedNonce === nonce) return;
    watch.ackedNonce = nonce;
    this.host.events.acked?.(this, watch.typeUrl, nonce, watch.sentVersion, watch.sentPushStartedAt);
  }

  private recordNack(watch: TypeWatch | undefined, typeUrl: string, nonce: string, error: string): void {
    if (!watch || nonce !== watch.sentNonce) {
      this.host.log.debug({ connection: this.connectionId, typeUrl, nonce }, 'NACK of a stale nonce ignored');
      return;
    }
    if (watch.nackedNonce === nonce) return;
    watch.nackedNonce = nonce;
    this.host.events.nacked?.(this, typeUrl, nonce, error);
  }

  /**
   * Generates the type for this proxy and sends what the proxy lacks.
   * `full` always answers (a proxy's request); `changed` sends only differences.
   * Returns false when the generator does not serve the type.
   */
  private async respond(watch: TypeWatch, request: PushRequest, mode: RespondMode): Promise<boolean> {
    let generated: readonly XdsResource[] | undefined;
    try {
      generated = this.host.generator.generate(this.proxy, watch, request);
    } catch (err) {
      // A translation failure must not end the stream (the proxy would reconnect into the
      // same failure): the proxy keeps what it has, and the next push tries again.
      const message = (err as Error).message;
      if (!this.generationFailuresLogged.has(`${watch.typeUrl}|${message}`)) {
        this.generationFailuresLogged.add(`${watch.typeUrl}|${message}`);
        this.host.log.error({ err, connection: this.connectionId, proxy: this.proxy?.id, typeUrl: watch.typeUrl }, `generating ${watch.typeUrl} for ${this.proxy?.id} failed; it keeps its last configuration: ${message}`);
      }
      return true;
    }
    if (generated === undefined) {
      this.logOnce(watch.typeUrl, `unknown type URL ${watch.typeUrl} ignored`);
      return false;
    }
    const wanted = watch.wildcard ? generated : generated.filter((r) => watch.names.has(r.name));
    const current = new Map<string, XdsResource>();
    for (const r of wanted) current.set(r.name, r);
    const changed = [...current.values()].filter((r) => watch.held.get(r.name) !== r.version);
    const removed = [...watch.held.keys()].filter((n) => !current.has(n) && (watch.wildcard || watch.names.has(n)));
    const nothingNew = changed.length === 0 && removed.length === 0;
    if (mode === 'changed' && nothingNew) return true;

    const nonce = this.host.nextNonce();
    let bytes: Buffer;
    let sent: readonly XdsResource[];
    let fullState = false;
    if (this.protocol === 'sotw') {
      // LDS/CDS responses carry the whole set; others only what the proxy lacks
      // (or everything it asked for, when it asked).
      fullState = watch.wildcard;
      sent = fullState || mode === 'full' ? [...current.values()] : changed;
      bytes = encodeSotwResponse({ versionInfo: request.version, typeUrl: watch.typeUrl, nonce, controlPlane: this.host.controlPlane, resources: sent });
      if (fullState) watch.held.clear();
    } else {
      sent = changed;
      bytes = encodeDeltaResponse({
        systemVersionInfo: request.version, typeUrl: watch.typeUrl, nonce, controlPlane: this.host.controlPlane, resources: sent, removed,
      });
    }
    for (const n of removed) watch.held.delete(n);
    for (const r of sent) watch.held.set(r.name, r.version);
    watch.sentNonce = nonce;
    watch.sentVersion = request.version;
    watch.sentPushStartedAt = request.startedAt;
    this.host.events.responseSent?.(this, {
      typeUrl: watch.typeUrl, nonce, version: request.version, resources: sent, removed, fullState,
      bytes: bytes.length, pushStartedAt: request.startedAt,
    });
    await this.write(bytes);
    return true;
  }

  /** Writes one response, waiting for the stream to drain when HTTP/2 flow control pushes back. */
  private write(bytes: Buffer): Promise<void> {
    if (!this.open) return Promise.resolve();
    let flushed: boolean;
    try {
      flushed = this.call.write(bytes);
    } catch {
      this.shutdown();
      return Promise.resolve();
    }
    return flushed ? Promise.resolve() : drained(this.call);
  }

  private logOnce(key: string, msg: string): void {
    if (this.unknownTypesLogged.has(key)) return;
    this.unknownTypesLogged.add(key);
    this.host.log.warn({ connection: this.connectionId, proxy: this.proxy?.id }, msg);
    if (key) this.host.events.badRequest?.(this, msg);
  }
}
