// gRPC server settings for thousands of long-lived ADS streams, and binding.
import * as grpc from '@grpc/grpc-js';

const identity = (bytes: Buffer): Buffer => bytes;

/** A method whose messages stay raw bytes: meshd decodes them itself, so a bad message gets a clear status. */
export function rawBytesMethod(path: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

export interface GrpcServerLimits {
  /** Concurrent streams one HTTP/2 connection may open. */
  maxStreamsPerConnection?: number;
}

export function createGrpcServer(limits: GrpcServerLimits = {}): grpc.Server {
  return new grpc.Server({
    // Ping idle connections so dead proxies are noticed; istiod uses 30s/10s.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_concurrent_streams': limits.maxStreamsPerConnection ?? 1000,
    // Large clusters produce large responses; istiod allows 4 MiB received, more sent.
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
    // Per-connection buffered memory before HTTP/2 pushes back (flow control).
    'grpc-node.max_session_memory': 64,
  });
}

/** Binds host:port (0 = any free port) and resolves to the port actually bound. */
export function bindGrpcServer(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

/** Graceful shutdown bounded by `graceMs`, then forced. */
export function shutdownGrpcServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves when a stream that refused a write (HTTP/2 flow control) drains, or when it closes. */
export function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
