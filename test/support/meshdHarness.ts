// Starts meshd in-process on ephemeral loopback ports with captured JSON logs.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { defaultConfig, startMeshd, type Meshd, type MeshdConfig, type MeshdDeps } from '../../src/meshd.js';

export interface LogCapture {
  lines: Array<Record<string, unknown>>;
  find(pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined;
}

export function captureLogs(level = 'debug'): { logger: pino.Logger; logs: LogCapture } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, sink), logs: { lines, find: (p) => lines.find(p) } };
}

export async function startTestMeshd(
  deps: Omit<MeshdDeps, 'logger'>,
  config: Partial<MeshdConfig> = {},
): Promise<{ meshd: Meshd; logs: LogCapture; xdsAddress: string; httpUrl: string }> {
  const { logger, logs } = captureLogs();
  const meshd = await startMeshd(
    { ...defaultConfig, host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, controlPlaneId: 'istiod-test', drainGraceMs: 2_000, ...config },
    { ...deps, logger },
  );
  return { meshd, logs, xdsAddress: `127.0.0.1:${meshd.ports.xds}`, httpUrl: `http://127.0.0.1:${meshd.ports.http}` };
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T };
}
