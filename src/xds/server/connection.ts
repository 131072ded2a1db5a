// One ADS stream, whatever its protocol: identification, per-type ACK/NACK bookkeeping,
// generation, and writing with backpressure. The protocol's own rules (what a request
// means, what a response carries) live in sotwConnection.ts and deltaConnection.ts.
// Requests and pushes run one at a time per stream, in arrival order. Every response is
// admitted by the global byte budget before it is generated (byteBudget.ts), and a stream
// starts a response only while the bytes its transport has not taken yet (the write
// callback: HTTP/2 flow control) are under its window, so a slow proxy holds at most its
// window plus one response in meshd's memory.
import * as grpc from '@grpc/grpc-js';
import { NodeIdError, type Proxy } from '../../model/proxy.js';
import type { XdsResource } from '../resource.js';
import type { ConnectionInfo, XdsServerEvents } from './events.js';
import type { ByteBudget } from './byteBudget.js';
import { byPushOrder, type RespondMode, type Subscription } from './subscription.js';
import type { PushRequest, ResourceGenerator } from './types.js';
import type { DecodedNode } from './wire.js';

/** What the server gives each stream. */
export interface ConnectionHost {
  readonly generator: ResourceGenerator;
  readonly events: XdsServerEvents;
  readonly controlPlane: string;
  /** A nonce no earlier response of this server carried. */
  readonly nextNonce: () => string;
  /** Bytes written to all streams and not yet taken by their transports; admits every response. */
  readonly budget: ByteBudget;
  /**
   * A stream starts another response while less than this many of its bytes wait for its
   * transport (0: only once the transport took the last one).
   */
  readonly streamWindowBytes: number;
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

export type AdsCall = grpc.ServerDuplexStream<Buffer, Buffer>;

/** A response a protocol handler built, ready to write. */
export interface BuiltResponse {
  readonly nonce: string;
  readonly bytes: Buffer;
  readonly resources: readonly XdsResource[];
  readonly removed: readonly string[];
  readonly fullState: boolean;
}

/** What every decoded request carries, whatever the protocol. */
export interface ClientRequest {
  node?: DecodedNode;
  typeUrl: string;
}

/** A proxy's own request is answered with the latest push, taken once the stream can write. */
type RequestSource = PushRequest | 'latest';

/** Requests waiting on a stream before meshd stops reading from it (HTTP/2 flow control then holds the client). */
const maxRequestBacklog = 16;

let connectionCounter = 0;

export abstract class AdsConnection implements ConnectionInfo {
  abstract readonly protocol: 'sotw' | 'delta';
  connectionId = '';
  proxy!: Proxy;
  readonly connectedAt = Date.now();
  protected readonly subscriptions = new Map<string, Subscription>();
  private readonly unknownTypesLogged = new Set<string>();
  /** Generation failures already logged on this stream (type URL and message), so a failing push logs once. */
  private readonly generationFailuresLogged = new Set<string>();
  private work: Promise<void> = Promise.resolve();
  private open = true;
  /** Requests received and not yet handled; reading pauses above maxRequestBacklog. */
  private backlog = 0;
  private paused = false;
  /** Responses handed to grpc-js whose transport has not taken them yet, oldest first. */
  private readonly inFlight: Array<{ bytes: number; taken: Promise<void>; release: () => void }> = [];
  private inFlightBytes = 0;
  /** A push waiting behind requests on this stream: handed back to the queue if the stream blocks. */
  private waitingPush: { request: PushRequest; settle: (unsent: PushRequest | undefined) => void; cancelled: boolean } | undefined;

  constructor(
    protected readonly host: ConnectionHost,
    private readonly call: AdsCall,
    readonly peerAddress: string,
  ) {
    call.on('data', (bytes: Buffer) => this.onData(bytes));
    call.on('end', () => this.finish(grpc.status.OK, 'client closed the stream'));
    call.on('cancelled', () => this.shutdown());
    call.on('error', () => this.shutdown());
    call.on('close', () => this.shutdown());
  }

  /**
   * Reads one request message as it arrives and returns what handles it, run in arrival order.
   * A protocol may keep a compact form of the request (names from a pool) instead of its bytes:
   * requests wait here while the stream's earlier responses wait for the byte budget, and a
   * scope's proxies send the same thousands of names.
   */
  protected abstract receive(bytes: Buffer): () => Promise<void> | void;

  /** The protocol's response to `generated`, updating what the subscription holds; undefined when there is nothing to send. */
  protected abstract buildResponse(sub: Subscription, request: PushRequest, generated: readonly XdsResource[], mode: RespondMode): BuiltResponse | undefined;

  get isOpen(): boolean {
    return this.open;
  }

  get identified(): boolean {
    return this.connectionId !== '';
  }

  /** Types and names this stream watches, for push decisions. */
  watchedTypes(): string[] {
    return [...this.subscriptions.keys()];
  }

  /** Bytes of this stream's responses not yet taken by the transport. */
  get queuedBytes(): number {
    return this.inFlightBytes;
  }

  /** The stream may start another response: nothing in flight, or less than its window. */
  private get hasRoom(): boolean {
    return this.inFlightBytes === 0 || this.inFlightBytes < this.host.streamWindowBytes;
  }

  /** Resolves once the stream may start another response (or closed). */
  async writable(): Promise<void> {
    while (!this.hasRoom && this.open) await this.inFlight[0]!.taken;
  }

  /**
   * Regenerates the types a push concerns and sends what changed, one response
   * at a time while the transport keeps up. Resolves to what is left when the
   * stream is still busy with an earlier response: the push queue parks it.
   */
  push(request: PushRequest): Promise<PushRequest | undefined> {
    if (!this.open) return Promise.resolve(undefined);
    if (!this.hasRoom) return Promise.resolve(request);
    return new Promise((settle) => {
      const entry = { request, settle, cancelled: false };
      this.waitingPush = entry;
      void this.enqueue(async () => {
        if (entry.cancelled) return;
        this.waitingPush = undefined;
        let unsent: PushRequest | undefined;
        try {
          unsent = await this.pushTypes(request);
        } finally {
          settle(unsent);
        }
      });
    });
  }

  private async pushTypes(request: PushRequest): Promise<PushRequest | undefined> {
    const types = [...this.subscriptions.keys()].filter((t) => !request.types || request.types.has(t)).sort(byPushOrder);
    for (let i = 0; i < types.length; i++) {
      if (!this.open) return undefined;
      if (!this.hasRoom) return { ...request, types: new Set(types.slice(i)) };
      const sub = this.subscriptions.get(types[i]!);
      if (sub) await this.respondAdmitted(sub, request, 'changed');
    }
    return undefined;
  }

  /** What this proxy would be sent now for each watched type (the debug API's STALE explanation). */
  preview(request: PushRequest): Map<string, readonly XdsResource[]> {
    const out = new Map<string, readonly XdsResource[]>();
    for (const sub of this.subscriptions.values()) {
      const generated = this.host.generator.generate(this.proxy, sub, request);
      if (generated) out.set(sub.typeUrl, sub.wildcard ? generated : generated.filter((r) => sub.names.has(r.name)));
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
    for (const response of [...this.inFlight]) response.release();
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
    const handle = this.receive(bytes);
    void this.enqueue(() => (this.open ? handle() : undefined)).then(() => {
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

  /**
   * Decodes a request, identifies the stream by its first request's node and checks the
   * type URL; undefined (the stream ended or the request was ignored) when there is nothing to handle.
   */
  protected decodeRequest<R extends ClientRequest>(bytes: Buffer, decode: (bytes: Buffer) => R, messageName: string): R | undefined {
    let request: R;
    try {
      request = decode(bytes);
    } catch (err) {
      const reason = `malformed ${messageName}: ${(err as Error).message}`;
      this.host.events.badRequest?.(this.identified ? this : undefined, reason);
      this.finish(grpc.status.INVALID_ARGUMENT, reason);
      return undefined;
    }
    return this.accepted(request) ? request : undefined;
  }

  /** Identifies the stream by its first request's node and checks the type URL; false when there is nothing to handle. */
  protected accepted(request: ClientRequest): boolean {
    if (!this.identified && !this.identify(request.node)) return false;
    if (!request.typeUrl) {
      this.host.events.badRequest?.(this, 'request without type_url ignored');
      this.logOnce('', 'request without type_url ignored');
      return false;
    }
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

  protected staleNonce(typeUrl: string, nonce: string, msg: string): void {
    this.host.log.debug({ connection: this.connectionId, typeUrl, nonce }, msg);
  }

  protected recordAck(sub: Subscription, nonce: string): void {
    if (sub.ackedNonce === nonce) return;
    sub.ackedNonce = nonce;
    this.host.events.acked?.(this, sub.typeUrl, nonce, sub.sentVersion, sub.sentPushStartedAt);
  }

  protected recordNack(sub: Subscription | undefined, typeUrl: string, nonce: string, error: string): void {
    if (!sub || nonce !== sub.sentNonce) {
      this.staleNonce(typeUrl, nonce, 'NACK of a stale nonce ignored');
      return;
    }
    if (sub.nackedNonce === nonce) return;
    sub.nackedNonce = nonce;
    this.host.events.nacked?.(this, typeUrl, nonce, error);
  }

  /**
   * Starts a subscription with a full response to the latest push; forgets it again when the
   * generator does not serve the type.
   */
  protected async subscribe(sub: Subscription): Promise<void> {
    this.subscriptions.set(sub.typeUrl, sub);
    if (!(await this.respond(sub, 'latest', 'full'))) this.subscriptions.delete(sub.typeUrl);
  }

  /** Answers a proxy's request once the stream has room, with the latest push unless told otherwise. */
  protected async respond(sub: Subscription, source: RequestSource, mode: RespondMode): Promise<boolean> {
    while (!this.hasRoom && this.open) {
      // A push waiting behind this request goes back to the queue instead of holding a push slot.
      const waiting = this.waitingPush;
      if (waiting) {
        waiting.cancelled = true;
        this.waitingPush = undefined;
        waiting.settle(waiting.request);
      }
      await this.inFlight[0]!.taken;
    }
    if (!this.open) return true;
    return this.respondAdmitted(sub, source, mode);
  }

  /**
   * Waits for the global budget's turn, then generates the type for this proxy and writes
   * what the proxy lacks. Returns false when the generator does not serve the type.
   */
  private async respondAdmitted(sub: Subscription, source: RequestSource, mode: RespondMode): Promise<boolean> {
    const admission = await this.host.budget.admit();
    try {
      if (!this.open) return true;
      // Taken now, not when the request arrived: a response that waited carries the newest push.
      const request = source === 'latest' ? this.host.requestForProxyRequest() : source;
      const response = this.generateResponse(sub, request, mode);
      if (response === false) return false;
      if (response) this.sent(sub, request, response, await admission.take(response.bytes.length));
      return true;
    } finally {
      admission.done();
    }
  }

  /** The response to send, undefined when there is none (nothing changed, or generation failed), false for a type the generator does not serve. */
  private generateResponse(sub: Subscription, request: PushRequest, mode: RespondMode): BuiltResponse | undefined | false {
    let generated: readonly XdsResource[] | undefined;
    try {
      generated = this.host.generator.generate(this.proxy, sub, request);
    } catch (err) {
      // A translation failure must not end the stream (the proxy would reconnect into the
      // same failure): the proxy keeps what it has, and the next push tries again.
      const message = (err as Error).message;
      if (!this.generationFailuresLogged.has(`${sub.typeUrl}|${message}`)) {
        this.generationFailuresLogged.add(`${sub.typeUrl}|${message}`);
        this.host.log.error(
          { err, connection: this.connectionId, proxy: this.proxy?.id, typeUrl: sub.typeUrl },
          `generating ${sub.typeUrl} for ${this.proxy?.id} failed; it keeps its last configuration: ${message}`,
        );
      }
      return undefined;
    }
    if (generated === undefined) {
      this.logOnce(sub.typeUrl, `unknown type URL ${sub.typeUrl} ignored`);
      return false;
    }
    return this.buildResponse(sub, request, generated, mode);
  }

  /** `uncount` releases the response's bytes from the global budget. */
  private sent(sub: Subscription, request: PushRequest, response: BuiltResponse, uncount: () => void): void {
    sub.sentNonce = response.nonce;
    sub.sentVersion = request.version;
    sub.sentPushStartedAt = request.startedAt;
    this.host.events.responseSent?.(this, {
      typeUrl: sub.typeUrl,
      nonce: response.nonce,
      version: request.version,
      resources: response.resources,
      removed: response.removed,
      fullState: response.fullState,
      bytes: response.bytes.length,
      pushStartedAt: request.startedAt,
    });
    this.write(response.bytes, uncount);
  }

  /**
   * Hands one response to grpc-js and counts it in flight until the write callback says
   * the transport took it (HTTP/2 flow control holds the callback for a proxy that does not read).
   */
  private write(bytes: Buffer, uncount: () => void): void {
    if (!this.open) {
      uncount();
      return;
    }
    const size = bytes.length;
    let released = false;
    let resolve!: () => void;
    const taken = new Promise<void>((r) => (resolve = r));
    const release = (): void => {
      if (released) return;
      released = true;
      uncount();
      const i = this.inFlight.indexOf(response);
      if (i >= 0) {
        this.inFlight.splice(i, 1);
        this.inFlightBytes -= size;
      }
      resolve();
    };
    const response = { bytes: size, taken, release };
    this.inFlight.push(response);
    this.inFlightBytes += size;
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
