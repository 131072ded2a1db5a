// The demo workload: a tiny gRPC service whose replies say which pod and
// version answered. Messages are JSON in raw gRPC frames, so any gRPC
// implementation (grpc-js, the C-core Python client) can call it without
// generated stubs. Servers are xDS-enabled (proxyless) when given a
// bootstrap: they serve only once meshd sent their server listener.
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { XdsServer, register as registerXds } from '@grpc/grpc-js-xds';
import type { GrpcBootstrap } from './bootstrap.js';
import { bootstrapChannelOption } from './bootstrap.js';
import { StartupError } from '../startupError.js';

// Adds the xds:/// resolver, xDS load balancers and HTTP filters to grpc-js (idempotent).
registerXds();

export const echoMethods = {
  echo: '/meshd.demo.Echo/Echo',
  ping: '/meshd.demo.Echo/Ping',
  status: '/meshd.demo.Admin/Status',
} as const;

export type EchoMethod = keyof typeof echoMethods;

export interface EchoRequest {
  /** The server waits this long before answering (timeouts, delays). */
  sleepMs?: number;
}

export interface EchoReply {
  pod: string;
  version: string;
  method: string;
}

const toJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const fromJson = <T>(bytes: Buffer): T => (bytes.length === 0 ? ({} as T) : (JSON.parse(bytes.toString('utf8')) as T));

/** An echo method as gRPC calls it: JSON request and reply. */
export function methodDefinition(path: string): grpc.MethodDefinition<EchoRequest, EchoReply> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: toJson,
    requestDeserialize: fromJson<EchoRequest>,
    responseSerialize: toJson,
    responseDeserialize: fromJson<EchoReply>,
  };
}

export interface EchoServerOptions {
  /** `IP:PORT` to serve on (an xDS server needs a concrete IP and port). */
  address: string;
  pod: string;
  version: string;
  /** With a bootstrap, the server is an xDS-enabled gRPC server of this identity. */
  bootstrap?: GrpcBootstrap;
  /** Fail every Nth call with UNAVAILABLE (a flaky backend, deterministic so tests stay exact). */
  failEvery?: number;
  /** Bound on the wait for serving (an xDS server waits for its listener; a taken port never serves). */
  timeoutMs?: number;
}

export interface EchoServer {
  readonly address: string;
  readonly pod: string;
  /** Calls answered, failed ones included. */
  readonly calls: number;
  close(): Promise<void>;
}

/**
 * Rejects when `port` is taken. An xDS server binds its port on every
 * interface only once meshd's listener arrives, and grpc-js-xds then throws a
 * taken port as an uncaught error; checking first turns that into a message.
 */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new StartupError(error.code === 'EADDRINUSE' ? `${what}: port ${port} is already in use` : `${what}: cannot use port ${port}: ${error.message}`)),
    );
    probe.listen(port, () => probe.close(() => resolve()));
  });
}

/** Starts an echo server; resolves once it serves (for an xDS server: once meshd sent its listener). */
export async function startEchoServer(options: EchoServerOptions): Promise<EchoServer> {
  if (options.bootstrap) await assertPortFree(Number(options.address.slice(options.address.lastIndexOf(':') + 1)), `echo server ${options.pod}`);
  const server = options.bootstrap ? new XdsServer(bootstrapChannelOption(options.bootstrap)) : new grpc.Server();
  let calls = 0;
  const handler: grpc.handleUnaryCall<EchoRequest, EchoReply> = (call, callback) => {
    calls++;
    const reply: EchoReply = { pod: options.pod, version: options.version, method: call.getPath() };
    if (options.failEvery && calls % options.failEvery === 0) {
      callback({ code: grpc.status.UNAVAILABLE, details: `${options.pod} is flaky` });
      return;
    }
    const sleepMs = call.request.sleepMs ?? 0;
    if (sleepMs > 0) setTimeout(() => callback(null, reply), sleepMs).unref();
    else callback(null, reply);
  };
  const definition: grpc.ServiceDefinition = Object.fromEntries(Object.entries(echoMethods).map(([name, path]) => [name, methodDefinition(path)]));
  const implementation: grpc.UntypedServiceImplementation = Object.fromEntries(Object.keys(echoMethods).map((name) => [name, handler]));
  server.addService(definition, implementation);
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      server.forceShutdown();
      reject(
        new Error(
          `echo server ${options.pod} did not serve on ${options.address} within ${timeoutMs} ms (port taken, or no server listener from meshd for it)`,
        ),
      );
    }, timeoutMs);
    server.bindAsync(options.address, grpc.ServerCredentials.createInsecure(), (error) => {
      clearTimeout(timer);
      if (error) {
        reject(new Error(`echo server ${options.pod} cannot serve on ${options.address}: ${error.message}`));
        return;
      }
      resolve({
        address: options.address,
        pod: options.pod,
        get calls() {
          return calls;
        },
        close: () => new Promise<void>((done) => server.tryShutdown(() => done())),
      });
    });
  });
}

export interface EchoCallOptions {
  metadata?: Record<string, string>;
  deadlineMs?: number;
  request?: EchoRequest;
}

export type EchoOutcome = { ok: true; reply: EchoReply } | { ok: false; code: grpc.status; details: string };

/** A client of the echo service; `target` is usually `xds:///HOST:PORT`. */
export class EchoClient {
  private readonly client: grpc.Client;

  constructor(target: string, bootstrap?: GrpcBootstrap) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), bootstrap ? bootstrapChannelOption(bootstrap) : {});
  }

  call(method: EchoMethod, options: EchoCallOptions = {}): Promise<EchoOutcome> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
    const definition = methodDefinition(echoMethods[method]);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        options.request ?? {},
        metadata,
        { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
        (error, reply) => {
          if (error) resolve({ ok: false, code: error.code, details: error.details });
          else resolve({ ok: true, reply: reply! });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
