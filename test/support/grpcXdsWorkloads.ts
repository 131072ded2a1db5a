// Proxyless echo workloads and traffic tallies for the gRPC end-to-end tests.
import { status } from '@grpc/grpc-js';
import { EchoClient, startEchoServer, type EchoCallOptions, type EchoMethod, type EchoOutcome, type EchoServer } from '../../src/demo/echo.js';
import { podLabels, type EchoServiceSpec, type EchoWorkload } from '../../src/demo/mesh.js';
import type { GrpcMesh } from './grpcXdsMesh.js';

/** Starts one xDS-enabled echo server per workload, each with its pod's identity; resolves once all serve. */
export function startEchoWorkloads(
  mesh: GrpcMesh,
  spec: EchoServiceSpec,
  workloads: readonly EchoWorkload[],
  failEvery?: Record<string, number>,
): Promise<EchoServer[]> {
  return Promise.all(
    workloads.map((w) =>
      withDeadline(
        startEchoServer({
          address: `${w.ip ?? '127.0.0.1'}:${w.port}`,
          pod: w.pod,
          version: w.version,
          bootstrap: mesh.bootstrap({ pod: w.pod, namespace: spec.namespace, ip: w.ip ?? '127.0.0.1', labels: podLabels(spec, w) }),
          ...(failEvery?.[w.pod] ? { failEvery: failEvery[w.pod] } : {}),
        }),
        20_000,
        `echo server ${w.pod} to receive its server listener and serve`,
      ),
    ),
  );
}

/** A proxyless client in `namespace` with its own node identity. */
export function proxylessClient(
  mesh: GrpcMesh,
  target: string,
  pod = 'client',
  namespace = 'default',
  labels: Record<string, string> = { app: 'client' },
): EchoClient {
  return new EchoClient(target, mesh.bootstrap({ pod, namespace, ip: '127.0.0.2', labels }));
}

export interface Tally {
  /** Successful calls per answering version. */
  versions: Record<string, number>;
  /** Successful calls per answering pod. */
  pods: Record<string, number>;
  /** Failed calls per gRPC status code name. */
  errors: Record<string, number>;
  /** Distinct failure messages seen. */
  messages: string[];
  total: number;
}

/** The gRPC status name of `code` (grpc-js's status enum maps numbers back to names). */
const statusName = (code: number): string => status[code] ?? String(code);

/** Counts who answered a list of calls. */
export function tallyOf(outcomes: readonly EchoOutcome[]): Tally {
  const result = emptyTally();
  for (const outcome of outcomes) addOutcome(result, outcome);
  return result;
}

/** Makes `count` calls, `concurrency` at a time, and counts who answered. */
export async function tally(client: EchoClient, count: number, method: EchoMethod = 'echo', options: EchoCallOptions = {}, concurrency = 16): Promise<Tally> {
  const result = emptyTally();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      addOutcome(result, await client.call(method, options));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return result;
}

/**
 * Repeats `probe` until `accept` holds for its result, for at most `timeoutMs`:
 * how tests wait for meshd's pushes to reach the clients. Throws with the
 * last result when it never holds.
 */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last result: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Calls flowing continuously (as in production) while a test edits files. */
export interface Traffic {
  /** Calls since the previous take (without resetting). */
  current(): Tally;
  /** Returns the calls since the previous take and starts a new window. */
  take(): Tally;
  /** Stops the calls; returns every call since the start. */
  stop(): Promise<Tally>;
}

function emptyTally(): Tally {
  return { versions: {}, pods: {}, errors: {}, messages: [], total: 0 };
}

function addOutcome(t: Tally, outcome: EchoOutcome): void {
  t.total++;
  if (outcome.ok) {
    t.versions[outcome.reply.version] = (t.versions[outcome.reply.version] ?? 0) + 1;
    t.pods[outcome.reply.pod] = (t.pods[outcome.reply.pod] ?? 0) + 1;
  } else {
    const name = statusName(outcome.code);
    t.errors[name] = (t.errors[name] ?? 0) + 1;
    if (!t.messages.includes(outcome.details)) t.messages.push(outcome.details);
  }
}

export function startTraffic(client: EchoClient, method: EchoMethod = 'echo', concurrency = 4): Traffic {
  let window = emptyTally();
  const all = emptyTally();
  let running = true;
  const worker = async (): Promise<void> => {
    while (running) {
      const outcome = await client.call(method);
      addOutcome(window, outcome);
      addOutcome(all, outcome);
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    current: () => window,
    take: () => {
      const taken = window;
      window = emptyTally();
      return taken;
    },
    stop: async () => {
      running = false;
      await workers;
      return all;
    },
  };
}

/**
 * Waits until a window of at least `windowCalls` live calls satisfies
 * `accept` (windows start after the call, so they reflect the latest config).
 */
export async function trafficSettles(traffic: Traffic, accept: (t: Tally) => boolean, what: string, windowCalls = 40, timeoutMs = 20_000): Promise<Tally> {
  const deadline = Date.now() + timeoutMs;
  traffic.take();
  let last: Tally | undefined;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (traffic.current().total < windowCalls) continue;
    last = traffic.take();
    if (accept(last)) return last;
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last window: ${JSON.stringify(last ?? traffic.current())}`);
}
