// One ADS stream (State of the World or Delta) and Envoy's protocol rules on it:
// per-type nonces and versions, ACK/NACK, wildcard and named subscriptions.
// Requests and pushes run one at a time per stream, in arrival order, and a
// stream writes its next response only once the transport took the last one
// (the write callback: HTTP/2 flow control), so a slow proxy holds at most one
// response in meshd's memory.
import * as grpc from '@grpc/grpc-js';
import { NodeIdError, type Proxy } from '../../model/proxy.js';
import { wildcardTypes, type XdsResource } from '../resource.js';
import type { ConnectionInfo, XdsServerEvents } from './events.js';
import { HeldVersions } from './heldVersions.js';
import { NameSetPool } from './nameSets.js';
import type { ByteBudget } from './pushQueue.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from './types.js';
import {
  decodeDeltaRequest,
  decodeSotwRequest,
  encodeDeltaResponse,
  encodeSotwResponse,
  requestedNamesKey,
  scanSotwAck,
  type DecodedNode,
  type DeltaRequest,
  type SotwRequest,
} from './wire.js';

/** What the server gives each stream. */
export interface ConnectionHost {
  readonly generator: ResourceGenerator;
  readonly events: XdsServerEvents;
  readonly controlPlane: string;
  nextNonce(): string;
  /** Bytes written to all streams and not yet taken by their transports. */
  readonly budget: ByteBudget;
  /** The request used to answer a proxy's own request (not a push). */
  requestForProxyRequest(): PushRequest;
  /** Builds the proxy from its node (parseProxy plus whatever the host knows, e.g. its pod). */
  describeProxy(node: DecodedNode): Proxy;
  identified(conn: AdsConnection): void;
  closed(conn: AdsConnection): void;
  log: {
    warn(obj: object, msg: string): void;
    debug(obj: object, msg: string): void;
    info(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

/** Per-type protocol state of one stream. */
interface TypeWatch extends WatchedResource {
  wildcard: boolean;
  /** Never changed in place: SotW streams share them (sotwNameSets), generators remember results per set. */
  names: ReadonlySet<string>;
  /** name → version the proxy holds, as far as this server knows. */
  held: HeldVersions;
  sentNonce: string;
  sentVersion: string;
  sentPushStartedAt: number;
  ackedNonce: string;
  nackedNonce: string;
  /**
   * SotW: the generator's array whose every resource the proxy was sent (held matches it and
   * the names did not change since), so the next push finds what changed by comparing arrays.
   */
  lastGenerated: readonly XdsResource[] | undefined;
  /** Digest of the raw resource_names of the last SotW request applied: an ACK repeating them is recognised without decoding them. */
  requestedNames: string | undefined;
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
/**
 * `full`: everything the proxy asked for (a new subscription); `added`: what it lacks, and
 * the newly named resources even if it had them; `changed`: only differences, or nothing.
 */
type RespondMode = 'full' | { added: ReadonlySet<string> } | 'changed';
/** A proxy's own request is answered with the latest push, taken once the stream can write. */
type RequestSource = PushRequest | 'latest';

/** Requests waiting on a stream before meshd stops reading from it (HTTP/2 flow control then holds the client). */
const maxRequestBacklog = 16;

let connectionCounter = 0;

/** The name lists of SotW requests: proxies of one scope name the same resources. */
const sotwNameSets = new NameSetPool();

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
  /** Requests received and not yet handled; reading pauses above maxRequestBacklog. */
  private backlog = 0;
  private paused = false;
  /** The last response, until the transport took it. */
  private inFlight: { bytes: number; taken: Promise<void>; release: () => void } | undefined;
  /** A push waiting behind requests on this stream: handed back to the queue if the stream blocks. */
  private waitingPush: { request: PushRequest; settle: (unsent: PushRequest | undefined) => void; cancelled: boolean } | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly protocol: 'sotw' | 'delta',
    private readonly call: Call,
    readonly peerAddress: string,
  ) {
    call.on('data', (bytes: Buffer) => this.onData(bytes));
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

  /** Bytes of this stream's last response not yet taken by the transport. */
  get queuedBytes(): number {
    return this.inFlight?.bytes ?? 0;
  }

  /** Resolves once the transport took the last response (or the stream closed). */
  writable(): Promise<void> {
    return this.inFlight?.taken ?? Promise.resolve();
  }

  /**
   * Regenerates the types a push concerns and sends what changed, one response
   * at a time while the transport keeps up. Resolves to what is left when the
   * stream is still busy with an earlier response: the push queue parks it.
   */
  push(request: PushRequest): Promise<PushRequest | undefined> {
    if (!this.open) return Promise.resolve(undefined);
    if (this.inFlight) return Promise.resolve(request);
    return new Promise((settle) => {
      const entry = { request, settle, cancelled: false };
      this.waitingPush = entry;
      void this.enqueue(async () => {
        if (entry.cancelled) return;
        this.waitingPush = undefined;
        let unsent: PushRequest | undefined;
        try {
          unsent = this.pushTypes(request);
        } finally {
          settle(unsent);
        }
      });
    });
  }

  private pushTypes(request: PushRequest): PushRequest | undefined {
    const types = [...this.watches.keys()].filter((t) => !request.types || request.types.has(t)).sort((a, b) => orderOf(a) - orderOf(b));
    for (let i = 0; i < types.length; i++) {
      if (!this.open) return undefined;
      if (this.inFlight) return { ...request, types: new Set(types.slice(i)) };
      const watch = this.watches.get(types[i]!);
      if (watch) this.respondNow(watch, request, 'changed');
    }
    return undefined;
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
    // Bytes grpc-js will never send (a cancelled call drops them without calling back).
    this.inFlight?.release();
    if (this.waitingPush) {
      this.waitingPush.cancelled = true;
      this.waitingPush.settle(undefined);
      this.waitingPush = undefined;
    }
    this.host.closed(this);
    if (this.identified) this.host.events.streamClosed?.(this);
  }

  private onData(bytes: Buffer): void {
    this.backlog++;
    if (this.backlog > maxRequestBacklog && !this.paused) {
      // A client that sends faster than it reads must not grow meshd's memory.
      this.paused = true;
      this.call.pause();
    }
    void this.enqueue(() => this.onRequestBytes(bytes)).then(() => {
      this.backlog--;
      if (this.paused && this.backlog <= maxRequestBacklog / 2) {
        this.paused = false;
        this.call.resume();
      }
    });
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
    if (this.protocol === 'sotw' && this.identified && this.isRepeatedAck(bytes)) return;
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
    return this.protocol === 'sotw' ? this.onSotwRequest(request as SotwRequest, bytes) : this.onDeltaRequest(request as DeltaRequest);
  }

  /**
   * The common SotW request: an ACK of the latest response naming the same resources as
   * the last request. Recognised from the raw bytes (Envoy repeats thousands of EDS
   * names in every ACK), without decoding the names or rebuilding any set.
   */
  private isRepeatedAck(bytes: Buffer): boolean {
    const ack = scanSotwAck(bytes);
    if (!ack) return false;
    const watch = this.watches.get(ack.typeUrl);
    if (!watch || ack.responseNonce === '') return false;
    if (ack.responseNonce !== watch.sentNonce) {
      // A request answering an older response: superseded, whatever it names (as below).
      this.host.log.debug({ connection: this.connectionId, typeUrl: ack.typeUrl, nonce: ack.responseNonce }, 'stale nonce ignored');
      return true;
    }
    if (ack.resourceNamesKey() !== watch.requestedNames) return false;
    this.recordAck(watch, ack.responseNonce);
    return true;
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

  private async onSotwRequest(req: SotwRequest, bytes: Buffer): Promise<void> {
    const watch = this.watches.get(req.typeUrl);
    if (req.errorDetail) {
      this.recordNack(watch, req.typeUrl, req.responseNonce, req.errorDetail.message);
      return;
    }
    const wildcardType = wildcardTypes.has(req.typeUrl);
    const names = req.resourceNames.filter((n) => n !== '*');
    const wantsWildcard = wildcardType && (req.resourceNames.length === 0 || req.resourceNames.includes('*'));
    const namesKey = requestedNamesKey(bytes);
    if (!watch || req.responseNonce === '') {
      // A new subscription, or the proxy re-requesting after reconnecting to this stream.
      const fresh = this.newWatch(req.typeUrl, wantsWildcard, sotwNameSets.intern(namesKey, names), {});
      fresh.requestedNames = namesKey;
      this.watches.set(req.typeUrl, fresh);
      if (!(await this.respond(fresh, 'latest', 'full'))) this.watches.delete(req.typeUrl);
      return;
    }
    if (req.responseNonce !== watch.sentNonce) {
      this.host.log.debug({ connection: this.connectionId, typeUrl: req.typeUrl, nonce: req.responseNonce }, 'stale nonce ignored');
      return;
    }
    this.recordAck(watch, req.responseNonce);
    // From here the watch follows this request's names.
    watch.requestedNames = namesKey;
    const before = watch.names;
    const after = sotwNameSets.intern(namesKey, names);
    const added = names.filter((n) => !before.has(n));
    const removed = [...before].filter((n) => !after.has(n));
    const wildcardChanged = watch.wildcard !== wantsWildcard;
    if (added.length === 0 && removed.length === 0 && !wildcardChanged) return;
    watch.lastGenerated = undefined;
    watch.names = after;
    watch.wildcard = wantsWildcard;
    if (removed.length > 0) {
      for (const n of removed) watch.held.delete(n);
      this.host.events.unsubscribed?.(this, req.typeUrl, removed);
    }
    if (wildcardChanged && wantsWildcard) await this.respond(watch, 'latest', 'full');
    // EDS/RDS in SotW: only the newly named resources (CDS/LDS stay full state, see respondNow).
    else if (added.length > 0) await this.respond(watch, 'latest', { added: new Set(added) });
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
      watch = this.newWatch(req.typeUrl, wildcard, new Set(names), req.initialResourceVersions);
      this.watches.set(req.typeUrl, watch);
      if (!(await this.respond(watch, 'latest', 'full'))) this.watches.delete(req.typeUrl);
      return;
    }
    if (req.responseNonce) {
      if (req.responseNonce === watch.sentNonce) this.recordAck(watch, req.responseNonce);
      else this.host.log.debug({ connection: this.connectionId, typeUrl: req.typeUrl, nonce: req.responseNonce }, 'stale nonce');
    }
    // Subscription changes are honoured whatever the nonce says. A new name set, never the old
    // one changed in place: generators may remember results per set.
    const names = req.subscribe.length > 0 || req.unsubscribe.length > 0 ? new Set(watch.names) : undefined;
    if (names) {
      watch.names = names;
      watch.lastGenerated = undefined;
    }
    const unsubscribed: string[] = [];
    for (const name of req.unsubscribe) {
      if (name === '*') {
        watch.wildcard = false;
        continue;
      }
      if (names?.delete(name)) unsubscribed.push(name);
      watch.held.delete(name);
    }
    if (unsubscribed.length > 0) this.host.events.unsubscribed?.(this, req.typeUrl, unsubscribed);
    let subscribedSomething = false;
    for (const name of req.subscribe) {
      if (name === '*') {
        subscribedSomething ||= !watch.wildcard;
        watch.wildcard = true;
      } else if (names && !names.has(name)) {
        names.add(name);
        subscribedSomething = true;
      }
    }
    if (subscribedSomething) await this.respond(watch, 'latest', 'changed');
  }

  private newWatch(typeUrl: string, wildcard: boolean, names: ReadonlySet<string>, held: Record<string, string>): TypeWatch {
    return {
      typeUrl,
      wildcard,
      names,
      held: new HeldVersions(held),
      sentNonce: '',
      sentVersion: '',
      sentPushStartedAt: 0,
      ackedNonce: '',
      nackedNonce: '',
      requestedNames: undefined,
      lastGenerated: undefined,
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

  /** Answers a proxy's request once the stream took its last response, with the latest push unless told otherwise. */
  private async respond(watch: TypeWatch, source: RequestSource, mode: RespondMode): Promise<boolean> {
    while (this.inFlight) {
      // A push waiting behind this request goes back to the queue instead of holding a push slot.
      const waiting = this.waitingPush;
      if (waiting) {
        waiting.cancelled = true;
        this.waitingPush = undefined;
        waiting.settle(waiting.request);
      }
      await this.inFlight.taken;
    }
    if (!this.open) return true;
    return this.respondNow(watch, source === 'latest' ? this.host.requestForProxyRequest() : source, mode);
  }

  /**
   * Generates the type for this proxy and writes what the proxy lacks.
   * Returns false when the generator does not serve the type.
   */
  private respondNow(watch: TypeWatch, request: PushRequest, mode: RespondMode): boolean {
    let generated: readonly XdsResource[] | undefined;
    try {
      generated = this.host.generator.generate(this.proxy, watch, request);
    } catch (err) {
      // A translation failure must not end the stream (the proxy would reconnect into the
      // same failure): the proxy keeps what it has, and the next push tries again.
      const message = (err as Error).message;
      if (!this.generationFailuresLogged.has(`${watch.typeUrl}|${message}`)) {
        this.generationFailuresLogged.add(`${watch.typeUrl}|${message}`);
        this.host.log.error(
          { err, connection: this.connectionId, proxy: this.proxy?.id, typeUrl: watch.typeUrl },
          `generating ${watch.typeUrl} for ${this.proxy?.id} failed; it keeps its last configuration: ${message}`,
        );
      }
      return true;
    }
    if (generated === undefined) {
      this.logOnce(watch.typeUrl, `unknown type URL ${watch.typeUrl} ignored`);
      return false;
    }
    if (mode === 'changed' && this.protocol === 'sotw') {
      const quick = changesSinceLast(watch.lastGenerated, generated);
      if (quick) return this.sendQuick(watch, request, generated, quick);
    }
    // The generator's own (shared) array when nothing is filtered out: its encoding is shared too.
    const wanted = watch.wildcard || generated.every((r) => watch.names.has(r.name)) ? generated : generated.filter((r) => watch.names.has(r.name));
    const current = new Map<string, XdsResource>();
    for (const r of wanted) current.set(r.name, r);
    const added = typeof mode === 'object' ? mode.added : undefined;
    // A proxy that holds nothing yet (a new subscription) lacks everything: no per-name diff.
    const fresh = watch.held.size === 0;
    const changed = fresh ? wanted : wanted.filter((r) => watch.held.get(r.name) !== r.version || added?.has(r.name));
    const removed = fresh ? [] : [...watch.held.keys()].filter((n) => !current.has(n) && (watch.wildcard || watch.names.has(n)));
    const nothingNew = changed.length === 0 && removed.length === 0;
    if (mode !== 'full' && nothingNew) return true;

    const nonce = this.host.nextNonce();
    let bytes: Buffer;
    let sent: readonly XdsResource[];
    let fullState = false;
    if (this.protocol === 'sotw') {
      // LDS and CDS responses carry the whole set, named or wildcard (a client drops what they
      // leave out). EDS and RDS ones carry only what the proxy lacks, or everything it asked for
      // on a new subscription: in SotW a resource left out of them stays as the proxy has it.
      fullState = watch.wildcard || wildcardTypes.has(watch.typeUrl);
      const everything = current.size === wanted.length ? wanted : [...current.values()];
      sent = fullState || mode === 'full' ? everything : changed;
      bytes = encodeSotwResponse(
        { versionInfo: request.version, typeUrl: watch.typeUrl, nonce, controlPlane: this.host.controlPlane, resources: sent },
        sent === generated,
      );
      if (fullState) watch.held.clear();
    } else {
      sent = changed;
      bytes = encodeDeltaResponse({
        systemVersionInfo: request.version,
        typeUrl: watch.typeUrl,
        nonce,
        controlPlane: this.host.controlPlane,
        resources: sent,
        removed,
      });
    }
    // SotW: the proxy now holds all of `wanted`; when that is the generator's array, the next push compares
    // arrays, and the versions held are that array's (one map for every stream sent it).
    if (this.protocol === 'sotw' && wanted === generated) {
      watch.held.adopt(generated);
      watch.lastGenerated = generated;
    } else {
      for (const n of removed) watch.held.delete(n);
      for (const r of sent) watch.held.set(r.name, r.version);
      watch.lastGenerated = undefined;
    }
    this.sent(watch, request, nonce, bytes, sent, removed, fullState);
    return true;
  }

  /** A push to a SotW stream whose last generated array has the same layout: `changed` are the resources that differ. */
  private sendQuick(watch: TypeWatch, request: PushRequest, generated: readonly XdsResource[], changed: readonly XdsResource[]): boolean {
    watch.lastGenerated = generated;
    if (changed.length === 0) return true;
    // The same versions as the last array's but for `changed`: the new array's map, shared by the streams of the scope.
    watch.held.adopt(generated);
    const fullState = watch.wildcard || wildcardTypes.has(watch.typeUrl);
    const sent = fullState ? generated : changed;
    const nonce = this.host.nextNonce();
    const bytes = encodeSotwResponse(
      { versionInfo: request.version, typeUrl: watch.typeUrl, nonce, controlPlane: this.host.controlPlane, resources: sent },
      sent === generated,
    );
    this.sent(watch, request, nonce, bytes, sent, [], fullState);
    return true;
  }

  private sent(
    watch: TypeWatch,
    request: PushRequest,
    nonce: string,
    bytes: Buffer,
    sent: readonly XdsResource[],
    removed: readonly string[],
    fullState: boolean,
  ): void {
    watch.sentNonce = nonce;
    watch.sentVersion = request.version;
    watch.sentPushStartedAt = request.startedAt;
    this.host.events.responseSent?.(this, {
      typeUrl: watch.typeUrl,
      nonce,
      version: request.version,
      resources: sent,
      removed,
      fullState,
      bytes: bytes.length,
      pushStartedAt: request.startedAt,
    });
    this.write(bytes);
  }

  /**
   * Hands one response to grpc-js and counts it in flight until the write callback says
   * the transport took it (HTTP/2 flow control holds the callback for a proxy that does not read).
   */
  private write(bytes: Buffer): void {
    if (!this.open) return;
    const size = bytes.length;
    let released = false;
    let resolve!: () => void;
    const taken = new Promise<void>((r) => (resolve = r));
    const uncount = this.host.budget.take(size);
    const release = (): void => {
      if (released) return;
      released = true;
      uncount();
      if (this.inFlight?.taken === taken) this.inFlight = undefined;
      resolve();
    };
    this.inFlight = { bytes: size, taken, release };
    try {
      this.call.write(bytes, release);
    } catch {
      release();
      this.shutdown();
    }
  }

  private logOnce(key: string, msg: string): void {
    if (this.unknownTypesLogged.has(key)) return;
    this.unknownTypesLogged.add(key);
    this.host.log.warn({ connection: this.connectionId, proxy: this.proxy?.id }, msg);
    if (key) this.host.events.badRequest?.(this, msg);
  }
}

/**
 * The resources of `next` whose version differs from the same position in `last`, when both
 * list the same names in the same order (the generator's arrays for one scope usually do);
 * undefined when they do not, or when there is no `last`. Unchanged resources are usually
 * the very same objects, so this is a pointer comparison per resource.
 */
function changesSinceLast(last: readonly XdsResource[] | undefined, next: readonly XdsResource[]): XdsResource[] | undefined {
  if (!last || last.length !== next.length) return undefined;
  const changed: XdsResource[] = [];
  for (let i = 0; i < next.length; i++) {
    const a = last[i]!;
    const b = next[i]!;
    if (a === b) continue;
    if (a.name !== b.name) return undefined;
    if (a.version !== b.version) changed.push(b);
  }
  return changed;
}
