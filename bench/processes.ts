// Child processes of the benchmarks: their CPU and memory read from /proc,
// IPC waits that time out with the thing awaited named, and cleanup: children
// still running when the driver exits are killed.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(0)} s`;

// ------------------------------------------------------------ process metrics

const clockTicks = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) of a process, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / clockTicks;
}

/** VmRSS and VmHWM (peak RSS) of a process in MB, from /proc. */
export function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

/** The most ADS response bytes meshd ever had waiting for its streams' transports, from its /metrics. */
export async function queuedResponsePeakMb(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const peak = /^meshd_xds_queued_response_bytes_high_water (\S+)$/m.exec(text)?.[1];
  if (!peak) throw new Error('meshd /metrics has no meshd_xds_queued_response_bytes_high_water');
  return Math.round(Number(peak) / 2 ** 20);
}

/** A server's JS memory in MB: V8's heap in use, and outside it what JS objects hold (external) and, among that, ArrayBuffers and Buffers. */
export interface JsMemory {
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

/** meshd's process.memoryUsage(), from its /debug/memz. */
export async function jsMemory(httpPort: number): Promise<JsMemory> {
  const reply = await fetch(`http://127.0.0.1:${httpPort}/debug/memz`, { signal: AbortSignal.timeout(10_000) });
  if (!reply.ok) throw new Error(`meshd /debug/memz answered ${reply.status}`);
  const usage = (await reply.json()) as Partial<NodeJS.MemoryUsage>;
  const mb = (key: keyof NodeJS.MemoryUsage): number => {
    const bytes = usage[key];
    if (typeof bytes !== 'number') throw new Error(`meshd /debug/memz has no ${key}`);
    return Math.round(bytes / 2 ** 20);
  };
  return { heapUsedMb: mb('heapUsed'), externalMb: mb('external'), arrayBuffersMb: mb('arrayBuffers') };
}

// ------------------------------------------------------------ children

/** A wait that ran out of time (the thing awaited may still come), as opposed to a child that failed or exited. */
export class WaitTimeout extends Error {}

/** Resolves when `test` accepts an IPC message, rejects after `timeoutMs` or when the child fails or exits. */
export function waitMessage<T>(
  child: ChildProcess,
  what: string,
  timeoutMs: number,
  test: (m: Record<string, unknown>) => boolean,
  explain?: () => Promise<string>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: Record<string, unknown>): void => {
      if (m.event === 'error') {
        done();
        reject(new Error(`${what}: the child process failed: ${String(m.message)}`));
      } else if (test(m)) {
        done();
        resolve(m as T);
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`${what}: the child process exited (code ${code})`));
    };
    const timer = setTimeout(() => {
      done();
      void (explain?.() ?? Promise.resolve(''))
        .catch(() => '')
        .then((detail) => reject(new WaitTimeout(`timed out waiting for ${what} after ${seconds(timeoutMs)}${detail ? `; ${detail}` : ''}`)));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});
export function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/** Rejects when `child` exits: raced against every wait, so a crashed server fails the run at once. */
export function exitOf(child: ChildProcess, what: string, detail: () => string = () => ''): Promise<never> {
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`${what} exited during the run (${signal ?? `code ${code}`})${detail() ? `; last lines: ${detail()}` : ''}`)),
    ),
  );
  exited.catch(() => undefined); // stopping it on purpose is no error
  return exited;
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
