// The Aggregated Discovery Service: SotW and Delta ADS streams on any number of
// gRPC servers (plaintext 15010, TLS 15012), pushes through a bounded queue.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { parseProxy, type Proxy } from '../../model/proxy.js';
import type { AdsConnection, ConnectionHost } from './connection.js';
import { DeltaConnection } from './deltaConnection.js';
import type { XdsServerEvents } from './events.js';
import { rawBytesMethod } from './grpcServer.js';
import { ByteBudget } from './byteBudget.js';
import { PushQueue } from './pushQueue.js';
import { SotwConnection } from './sotwConnection.js';
import type { PushRequest, ResourceGenerator } from './types.js';
import type { DecodedNode } from './wire.js';

export interface AdsServerOptions {
  generator: ResourceGenerator;
  logger: Logger;
  events?: XdsServerEvents;
  /** This instance's name, sent as control_plane.identifier and shown by proxy-status. */
  controlPlaneId: string;
  controlPlaneVersion?: string;
  /** Streams pushed at the same time (istiod's PILOT_PUSH_THROTTLE, 100 by default). */
  pushConcurrency?: number;
  /**
   * No response (to a push or to a proxy's request) is written while it would take the response
   * bytes waiting for their streams' transports above this (default 64 MiB).
   */
  maxQueuedBytes?: number;
  /** A stream starts another response while less than this many of its bytes wait for its transport (default 0: one at a time). */
  streamWindowBytes?: number;
  /** Builds the proxy from its node; defaults to istiod's node id parsing. */
  describeProxy?: (node: DecodedNode) => Proxy;
}

/** Flow-control defaults: istiod's PILOT_PUSH_THROTTLE (100), and meshd's byte bounds. */
export const defaultAdsLimits = {
  pushConcurrency: 100,
  maxQueuedBytes: 64 * 1024 * 1024,
  streamWindowBytes: 0,
} as const;

const adsService = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** Raw-bytes service definition: requests are decoded per message so a bad one gets a clear status. */
export const adsServiceDefinition: grpc.ServiceDefinition = {
  StreamAggregatedResources: rawBytesMethod(`/${adsService}/StreamAggregatedResources`, true),
  DeltaAggregatedResources: rawBytesMethod(`/${adsService}/DeltaAggregatedResources`, true),
};

export class AdsServer {
  private readonly connections = new Set<AdsConnection>();
  private readonly queue: PushQueue<AdsConnection>;
  private readonly budget: ByteBudget;
  private readonly host: ConnectionHost;
  private readonly noncePrefix = randomBytes(3).toString('hex');
  private nonceCounter = 0;
  /** The latest push: a proxy's own request is answered with its version and its state. */
  private latest: Pick<PushRequest, 'version' | 'push'>;
  private draining = false;

  constructor(options: AdsServerOptions) {
    this.budget = new ByteBudget(options.maxQueuedBytes ?? defaultAdsLimits.maxQueuedBytes);
    this.queue = new PushQueue(options.pushConcurrency ?? defaultAdsLimits.pushConcurrency, this.budget);
    this.latest = { version: `${new Date().toISOString()}/0` };
    const log = options.logger;
    const events = options.events ?? {};
    this.host = {
      generator: options.generator,
      events,
      controlPlane: JSON.stringify({ Component: 'istiod', ID: options.controlPlaneId, info: { version: options.controlPlaneVersion ?? '' } }),
      nextNonce: () => `${this.noncePrefix}-${++this.nonceCounter}`,
      budget: this.budget,
      streamWindowBytes: options.streamWindowBytes ?? defaultAdsLimits.streamWindowBytes,
      requestForProxyRequest: () => ({ ...this.latest, reason: ['proxy request'], startedAt: performance.now() }),
      describeProxy: options.describeProxy ?? ((node) => parseProxy(node)),
      identified: (conn) => log.debug({ connection: conn.connectionId, peer: conn.peerAddress, protocol: conn.protocol }, 'ADS stream opened'),
      closed: (conn) => this.connections.delete(conn),
      log,
    };
  }

  /** Registers ADS on a gRPC server (call once per port's server). */
  addTo(server: grpc.Server): void {
    server.addService(adsServiceDefinition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.accept(call, 'sotw'),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.accept(call, 'delta'),
    });
  }

  /** The version the latest push carried. */
  get currentVersion(): string {
    return this.latest.version;
  }

  /** Queues a push to every identified stream the request affects. */
  push(request: PushRequest): void {
    this.answerWith(request);
    for (const conn of this.connections) {
      if (!conn.identified) continue;
      if (request.affects && !request.affects(conn.proxy)) continue;
      this.queue.enqueue(conn, request);
    }
  }

  /** Proxies' own requests are answered with this request's version and state from now on (a push, or a state no proxy needed pushed). */
  answerWith(request: Pick<PushRequest, 'version' | 'push'>): void {
    this.latest = request.push !== undefined ? { version: request.version, push: request.push } : { version: request.version };
  }

  /** Queues a push to the named streams only (e.g. proxies whose pod changed). */
  pushToConnections(connectionIds: ReadonlySet<string>, request: PushRequest): void {
    for (const conn of this.connections) if (conn.identified && connectionIds.has(conn.connectionId)) this.queue.enqueue(conn, request);
  }

  /** Identified streams, for the debug API, CSDS and proxy re-evaluation. */
  streams(): AdsConnection[] {
    return [...this.connections].filter((c) => c.identified);
  }

  /** A request for the latest push's state, as a proxy's own request is answered (debug checks generate with it). */
  latestRequest(): PushRequest {
    return this.host.requestForProxyRequest();
  }

  /** What the stream would be sent now, per watched type. */
  preview(connectionId: string): Map<string, readonly import('../resource.js').XdsResource[]> | undefined {
    const conn = this.streams().find((c) => c.connectionId === connectionId);
    return conn?.preview(this.host.requestForProxyRequest());
  }

  /** Response bytes written to streams and not yet taken by their transports (a response waiting over 5 s no longer counts). */
  get queuedBytes(): number {
    return this.budget.queuedBytes;
  }

  /** The most response bytes ever counted at once (never above maxQueuedBytes, but for one response larger than it). */
  get queuedBytesHighWater(): number {
    return this.budget.highWaterBytes;
  }

  /** Responses waiting for the byte budget (the one being built included). */
  get responsesWaiting(): number {
    return this.budget.waitingResponses;
  }

  /** Resolves once every queued push has been written. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Refuses new streams and ends the open ones with UNAVAILABLE so proxies reconnect elsewhere. */
  drain(reason = 'control plane shutting down'): void {
    this.draining = true;
    for (const conn of [...this.connections]) conn.finish(grpc.status.UNAVAILABLE, reason);
  }

  private accept(call: grpc.ServerDuplexStream<Buffer, Buffer>, protocol: 'sotw' | 'delta'): void {
    if (this.draining) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control plane shutting down' });
      return;
    }
    const conn = protocol === 'sotw' ? new SotwConnection(this.host, call, call.getPeer()) : new DeltaConnection(this.host, call, call.getPeer());
    this.connections.add(conn);
  }
}
