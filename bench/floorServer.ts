// The transport floor of the scale benchmark: a bare grpc-js ADS server, with
// meshd's gRPC server options, that serves the very resource bytes meshd sent
// one proxy (recorded by bench/envoySim.ts) and, for a change, pushes the
// responses meshd sent for it again, through meshd's push queue (same
// concurrency) with writes that wait for HTTP/2 to drain, as meshd's do. No
// model, no generation, no caching decisions: what is left is gRPC, HTTP/2 and
// copying bytes. Its own process, driven over IPC by bench/scale.ts.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition } from '../src/xds/server/adsServer.js';
import { PushQueue, type PushTarget } from '../src/xds/server/pushQueue.js';
import type { PushRequest } from '../src/xds/server/types.js';
import { bindGrpcServer, createGrpcServer, drained } from '../src/xds/server/grpcServer.js';
import { requestedNamesKey } from '../src/xds/server/requestScan.js';
import { decodeDeltaRequest, decodeSotwRequest, encodeDeltaResponse, encodeSotwResponse } from '../src/xds/server/wire.js';
import { wildcardTypes, type XdsResource } from '../src/xds/resource.js';
import type { Protocol, RecordedResponse } from './envoySim.js';

export type FloorCommand =
  | { cmd: 'start'; recording: string; maxStreamsPerConnection: number; pushConcurrency: number }
  | { cmd: 'replay'; id: number; phase: string }
  | { cmd: 'heap'; id: number }
  | { cmd: 'stop' };

export type FloorEvent =
  | { event: 'listening'; port: number }
  | { event: 'replayed'; id: number }
  | { event: 'heap'; id: number; usage: NodeJS.MemoryUsage }
  | { event: 'error'; message: string };

interface Recording {
  protocol: Protocol;
  responses: Array<RecordedResponse & { phase: string }>;
}

interface FloorResponse {
  typeUrl: string;
  resources: XdsResource[];
  removed: string[];
}

interface Watch {
  wildcard: boolean;
  names: Set<string>;
  sentNonce: string;
}

type Call = grpc.ServerDuplexStream<Buffer, Buffer>;

const send = (event: FloorEvent): void => void process.send?.(event);
const controlPlane = 'meshd-floor';

/**
 * One ADS stream: requests and pushes run one at a time, in order, and each write waits for
 * HTTP/2 to drain, as meshd's streams do, so the floor buffers no more than meshd would.
 */
class FloorStream implements PushTarget {
  readonly watches = new Map<string, Watch>();
  private work: Promise<void> = Promise.resolve();
  isOpen = true;

  constructor(
    private readonly floor: Floor,
    readonly call: Call,
  ) {}

  enqueue(task: () => Promise<void> | void): Promise<void> {
    this.work = this.work.then(task).catch((err: unknown) => {
      this.isOpen = false;
      this.call.emit('error', { code: grpc.status.INTERNAL, details: (err as Error).message });
    });
    return this.work;
  }

  /** A push: `request.version` names the recorded change. */
  push(request: PushRequest): Promise<undefined> {
    return this.enqueue(() => this.floor.pushTo(this, request.version)).then(() => undefined);
  }

  /** The floor waits for drains inside its pushes: it never hands a push back to the queue. */
  writable(): Promise<void> {
    return Promise.resolve();
  }

  write(bytes: Buffer): Promise<void> {
    if (!this.isOpen || this.call.write(bytes)) return Promise.resolve();
    return drained(this.call);
  }
}

class Floor {
  /** typeUrl → name → resource: what a newly subscribing proxy is sent. */
  private readonly state = new Map<string, Map<string, XdsResource>>();
  private readonly streams = new Set<FloorStream>();
  private readonly queue: PushQueue<FloorStream>;
  private readonly phases = new Map<string, FloorResponse[]>();
  private nonce = 0;
  /** SotW answers to requests naming the same set (or the wildcard), shared by the streams until the state changes, as meshd shares a scope's arrays. */
  private readonly heldShared = new Map<string, XdsResource[]>();
  private version = 'floor-0';

  constructor(
    private readonly recording: Recording,
    pushConcurrency: number,
  ) {
    this.queue = new PushQueue(pushConcurrency);
    for (const r of recording.responses) {
      const list = this.phases.get(r.phase) ?? [];
      list.push({
        typeUrl: r.typeUrl,
        removed: r.removed,
        resources: r.resources.map((x) => ({ typeUrl: r.typeUrl, name: x.name, version: x.version, any: Buffer.from(x.any, 'base64') })),
      });
      this.phases.set(r.phase, list);
    }
    for (const r of this.phases.get('initial') ?? []) this.apply(r);
  }

  /** Folds one recorded response into the state, as the proxy folded it. */
  private apply(r: FloorResponse): void {
    let byName = this.state.get(r.typeUrl);
    if (!byName) this.state.set(r.typeUrl, (byName = new Map<string, XdsResource>()));
    // A SotW response of a wildcard type is the full set.
    if (this.recording.protocol === 'sotw' && wildcardTypes.has(r.typeUrl)) byName.clear();
    this.heldShared.clear();
    for (const name of r.removed) byName.delete(name);
    for (const x of r.resources) byName.set(x.name, x);
  }

  handle(call: Call): void {
    const stream = new FloorStream(this, call);
    this.streams.add(stream);
    const gone = (): void => {
      stream.isOpen = false;
      this.streams.delete(stream);
    };
    call.on('error', gone);
    call.on('cancelled', gone);
    call.on('close', gone);
    call.on('end', () => {
      gone();
      call.end();
    });
    call.on(
      'data',
      (bytes: Buffer) => void stream.enqueue(() => (this.recording.protocol === 'sotw' ? this.onSotw(stream, bytes) : this.onDelta(stream, bytes))),
    );
  }

  private async onSotw(stream: FloorStream, bytes: Buffer): Promise<void> {
    const req = decodeSotwRequest(bytes);
    const names = new Set(req.resourceNames.filter((n) => n !== '*'));
    let watch = stream.watches.get(req.typeUrl);
    if (watch && req.responseNonce !== '' && req.responseNonce !== watch.sentNonce) return; // stale
    const added = watch ? [...names].some((n) => !watch!.names.has(n)) : true;
    if (!watch) stream.watches.set(req.typeUrl, (watch = { wildcard: wildcardTypes.has(req.typeUrl) && names.size === 0, names, sentNonce: '' }));
    watch.names = names;
    if (req.responseNonce !== '' && !added) return;
    const key = watch.wildcard ? req.typeUrl : `${req.typeUrl}|${requestedNamesKey(bytes)}`;
    let held = this.heldShared.get(key);
    if (!held) this.heldShared.set(key, (held = this.held(req.typeUrl, watch)));
    await this.respond(stream, watch, req.typeUrl, held, [], true);
  }

  private async onDelta(stream: FloorStream, bytes: Buffer): Promise<void> {
    const req = decodeDeltaRequest(bytes);
    let watch = stream.watches.get(req.typeUrl);
    const subscribed = req.subscribe.filter((n) => n !== '*');
    if (!watch) {
      stream.watches.set(
        req.typeUrl,
        (watch = { wildcard: wildcardTypes.has(req.typeUrl) && subscribed.length === 0, names: new Set(subscribed), sentNonce: '' }),
      );
      // Encoded per stream: sharing it, as meshd does, made this floor slower and larger in a
      // 2,000-proxy run (no backpressure here); per stream is the floor earlier runs measured.
      await this.respond(stream, watch, req.typeUrl, this.held(req.typeUrl, watch), []);
      return;
    }
    for (const n of req.unsubscribe) watch.names.delete(n);
    const fresh = subscribed.filter((n) => !watch.names.has(n));
    for (const n of fresh) watch.names.add(n);
    if (fresh.length > 0) {
      const byName = this.state.get(req.typeUrl);
      await this.respond(
        stream,
        watch,
        req.typeUrl,
        fresh.flatMap((n) => byName?.get(n) ?? []),
        [],
      );
    }
  }

  private held(typeUrl: string, watch: Watch): XdsResource[] {
    const byName = this.state.get(typeUrl);
    if (!byName) return [];
    return watch.wildcard ? [...byName.values()] : [...watch.names].flatMap((n) => byName.get(n) ?? []);
  }

  /** `shared`: `resources` is an array other streams are sent too (encoded once for all of them, as meshd does; see onDelta). */
  private respond(
    stream: FloorStream,
    watch: Watch,
    typeUrl: string,
    resources: readonly XdsResource[],
    removed: readonly string[],
    shared = false,
  ): Promise<void> {
    if (this.recording.protocol === 'sotw') {
      const response = encodeSotwResponse({ versionInfo: this.version, typeUrl, controlPlane, resources }, () => String(++this.nonce), shared);
      watch.sentNonce = response.nonce;
      return stream.write(response.bytes);
    }
    const response = encodeDeltaResponse({ systemVersionInfo: this.version, typeUrl, controlPlane, resources, removed }, () => String(++this.nonce), shared);
    watch.sentNonce = response.nonce;
    return stream.write(response.bytes);
  }

  /** A change: the responses meshd sent proxy 0 for it, pushed to every stream (as far as it subscribes) through meshd's push queue. */
  replay(phase: string): void {
    const responses = this.phases.get(phase);
    if (!responses) throw new Error(`the recording has no change ${phase}`);
    this.version = `floor-${phase}`;
    for (const r of responses) this.apply(r);
    for (const stream of this.streams) this.queue.enqueue(stream, { version: phase, reason: [phase], startedAt: performance.now() });
  }

  async pushTo(stream: FloorStream, phase: string): Promise<void> {
    for (const r of this.phases.get(phase) ?? []) {
      const watch = stream.watches.get(r.typeUrl);
      if (!watch || !stream.isOpen) continue;
      const resources = watch.wildcard ? r.resources : r.resources.filter((x) => watch.names.has(x.name));
      const removed = watch.wildcard ? r.removed : r.removed.filter((n) => watch.names.has(n));
      if (resources.length === 0 && removed.length === 0) continue;
      await this.respond(stream, watch, r.typeUrl, resources, removed, resources === r.resources);
    }
  }
}

async function main(): Promise<void> {
  let server: grpc.Server | undefined;
  let floor: Floor | undefined;
  process.on('uncaughtException', (err) => send({ event: 'error', message: err.stack ?? String(err) }));
  process.on('disconnect', () => process.exit(0));
  const onMessage = async (m: FloorCommand): Promise<void> => {
    try {
      if (m.cmd === 'start') {
        floor = new Floor(JSON.parse(readFileSync(m.recording, 'utf8')) as Recording, m.pushConcurrency);
        server = createGrpcServer({ maxStreamsPerConnection: m.maxStreamsPerConnection });
        const handler = (call: Call): void => floor!.handle(call);
        server.addService(adsServiceDefinition, { StreamAggregatedResources: handler, DeltaAggregatedResources: handler });
        const port = await bindGrpcServer(server, '127.0.0.1', 0, grpc.ServerCredentials.createInsecure());
        send({ event: 'listening', port });
      } else if (m.cmd === 'replay') {
        floor!.replay(m.phase);
        send({ event: 'replayed', id: m.id });
      } else if (m.cmd === 'heap') {
        send({ event: 'heap', id: m.id, usage: process.memoryUsage() });
      } else if (m.cmd === 'stop') {
        server?.forceShutdown();
        process.exit(0);
      }
    } catch (err) {
      send({ event: 'error', message: (err as Error).stack ?? String(err) });
    }
  };
  process.on('message', (m: FloorCommand) => void onMessage(m));
}

void main();
