// A raw ADS client over real gRPC that encodes and decodes with Envoy's own
// protos: for asserting protocol behaviour message by message.
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../../src/proto/envoyRoot.js';
import { decodeAnyToJson } from '../../src/xds/resource.js';
import { toStruct, type JsonValue } from '../../src/proto/struct.js';

export interface TestNode {
  id: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
}

export interface ReceivedResource {
  name: string;
  version?: string;
  typeUrl: string;
  body: Record<string, unknown>;
}

export interface ReceivedResponse {
  typeUrl: string;
  nonce: string;
  versionInfo: string;
  resources: ReceivedResource[];
  removed: string[];
  controlPlane: string;
}

const service = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

export function sidecarNode(name: string, namespace = 'default', extra: Record<string, unknown> = {}): TestNode {
  return {
    id: `sidecar~10.0.0.${(name.length * 7) % 250}~${name}.${namespace}~${namespace}.svc.cluster.local`,
    metadata: { NAMESPACE: namespace, CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: { app: name }, ...extra },
  };
}

/** A gateway (router) proxy's node: `name.namespace` with the pod labels its Gateways select. */
export function routerNode(name: string, namespace: string, labels: Record<string, string>): TestNode {
  return {
    id: `router~10.1.0.${name.length}~${name}.${namespace}~${namespace}.svc.cluster.local`,
    metadata: { NAMESPACE: namespace, CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: labels },
  };
}

function nodeMessage(node: TestNode): Record<string, unknown> {
  return { id: node.id, cluster: node.cluster ?? '', metadata: toStruct((node.metadata ?? {}) as { [key: string]: JsonValue }) };
}

export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: ReceivedResponse[] = [];
  private waiters: Array<() => void> = [];
  status: grpc.StatusObject | undefined;
  private nodeSent = false;

  constructor(
    address: string,
    readonly protocol: 'sotw' | 'delta',
    readonly node: TestNode,
    options: { client?: grpc.Client } = {},
  ) {
    this.client = options.client ?? new grpc.Client(address, grpc.credentials.createInsecure());
    const method = protocol === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    this.call = this.client.makeBidiStreamRequest(
      `${service}/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    this.call.on('data', (bytes: Buffer) => {
      this.queue.push(protocol === 'sotw' ? decodeSotw(bytes) : decodeDelta(bytes));
      this.wake();
    });
    this.call.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      this.wake();
    });
    this.call.on('error', () => this.wake());
  }

  /** Sends a SotW DiscoveryRequest (node attached to the first one). */
  request(typeUrl: string, opts: { names?: string[]; nonce?: string; version?: string; error?: string; withoutNode?: boolean } = {}): void {
    const msg: Record<string, unknown> = {
      typeUrl,
      resourceNames: opts.names ?? [],
      responseNonce: opts.nonce ?? '',
      versionInfo: opts.version ?? '',
    };
    if (!this.nodeSent && !opts.withoutNode) msg.node = nodeMessage(this.node);
    this.nodeSent = true;
    if (opts.error) msg.errorDetail = { code: 3, message: opts.error };
    const type = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    this.call.write(Buffer.from(type.encode(type.fromObject(msg)).finish()));
  }

  /** Sends a DeltaDiscoveryRequest. */
  delta(typeUrl: string, opts: { subscribe?: string[]; unsubscribe?: string[]; nonce?: string; initial?: Record<string, string>; error?: string } = {}): void {
    const msg: Record<string, unknown> = {
      typeUrl,
      resourceNamesSubscribe: opts.subscribe ?? [],
      resourceNamesUnsubscribe: opts.unsubscribe ?? [],
      initialResourceVersions: opts.initial ?? {},
      responseNonce: opts.nonce ?? '',
    };
    if (!this.nodeSent) msg.node = nodeMessage(this.node);
    this.nodeSent = true;
    if (opts.error) msg.errorDetail = { code: 3, message: opts.error };
    const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    this.call.write(Buffer.from(type.encode(type.fromObject(msg)).finish()));
  }

  /** Sends raw bytes (for malformed-input tests). */
  writeRaw(bytes: Buffer): void {
    this.call.write(bytes);
  }

  /** ACKs a response like Envoy: its nonce, its version, the same names. */
  ack(response: ReceivedResponse, names?: string[]): void {
    if (this.protocol === 'sotw') this.request(response.typeUrl, { nonce: response.nonce, version: response.versionInfo, ...(names ? { names } : {}) });
    else this.delta(response.typeUrl, { nonce: response.nonce });
  }

  nack(response: ReceivedResponse, error: string, names?: string[]): void {
    if (this.protocol === 'sotw') this.request(response.typeUrl, { nonce: response.nonce, error, ...(names ? { names } : {}) });
    else this.delta(response.typeUrl, { nonce: response.nonce, error });
  }

  /** The next response, waiting at most `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<ReceivedResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.status) throw new Error(`stream ended: ${this.status.code} ${this.status.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.queue.shift()!;
  }

  /** Responses received and not yet consumed. */
  get pending(): number {
    return this.queue.length;
  }

  /** Waits for the stream's final status. */
  async ended(timeoutMs = 5_000): Promise<grpc.StatusObject> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.status;
  }

  cancel(): void {
    this.call.cancel();
  }

  /** Stops taking responses off the wire, like a stuck proxy: HTTP/2 flow control then holds the server. */
  stopReading(): void {
    this.call.pause();
  }

  resumeReading(): void {
    this.call.resume();
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}

function controlPlaneId(cp: { identifier?: string } | undefined): string {
  return cp?.identifier ?? '';
}

function decodeSotw(bytes: Buffer): ReceivedResponse {
  const type = lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const anyType = lookupType('google.protobuf.Any');
  const m = type.decode(bytes) as unknown as {
    versionInfo: string;
    typeUrl: string;
    nonce: string;
    resources: unknown[];
    controlPlane?: { identifier?: string };
  };
  return {
    typeUrl: m.typeUrl,
    nonce: m.nonce,
    versionInfo: m.versionInfo,
    removed: [],
    controlPlane: controlPlaneId(m.controlPlane),
    resources: (m.resources ?? []).map((any) => {
      const body = decodeAnyToJson(anyType.encode(any as object).finish());
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a decoded resource's name is a string
      return { name: String(body.name ?? body.clusterName ?? ''), typeUrl: String(body['@type']), body };
    }),
  };
}

function decodeDelta(bytes: Buffer): ReceivedResponse {
  const type = lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const anyType = lookupType('google.protobuf.Any');
  const m = type.decode(bytes) as unknown as {
    systemVersionInfo: string;
    typeUrl: string;
    nonce: string;
    removedResources?: string[];
    resources: Array<{ name: string; version: string; resource: unknown }>;
    controlPlane?: { identifier?: string };
  };
  return {
    typeUrl: m.typeUrl,
    nonce: m.nonce,
    versionInfo: m.systemVersionInfo,
    removed: m.removedResources ?? [],
    controlPlane: controlPlaneId(m.controlPlane),
    resources: (m.resources ?? []).map((r) => {
      const body = decodeAnyToJson(anyType.encode(r.resource as object).finish());
      return { name: r.name, version: r.version, typeUrl: String(body['@type']), body };
    }),
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
