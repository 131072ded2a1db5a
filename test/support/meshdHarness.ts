// Starts meshd in-process on ephemeral loopback ports with captured JSON logs:
// the server alone (startTestMeshd) or all of `meshd serve` (serveKubeMode,
// or serve with loopbackConfig).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { defaultConfig, startMeshd, type Meshd, type MeshdConfig, type MeshdDeps } from '../../src/meshd.js';
import { serve } from '../../src/serve/index.js';
import type { FakeKubeApi } from './fakeKubeApi.js';

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

/** `meshd serve`'s defaults with every port ephemeral on loopback (the webhook port stays off unless set). */
export const loopbackConfig: MeshdConfig = { ...defaultConfig, host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0 };

export async function startTestMeshd(
  deps: Omit<MeshdDeps, 'logger'>,
  config: Partial<MeshdConfig> = {},
): Promise<{ meshd: Meshd; logs: LogCapture; xdsAddress: string; httpUrl: string }> {
  const { logger, logs } = captureLogs();
  const meshd = await startMeshd({ ...loopbackConfig, controlPlaneId: 'istiod-test', drainGraceMs: 2_000, ...config }, { ...deps, logger });
  return { meshd, logs, xdsAddress: `127.0.0.1:${meshd.ports.xds}`, httpUrl: `http://127.0.0.1:${meshd.ports.http}` };
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T };
}

/**
 * `meshd serve --kubeconfig` in-process against a fake API server, authenticating with `token` (the fake's
 * RequestRecord.token tells replicas apart); the kubeconfig's directory and the server are registered as cleanups.
 */
export async function serveKubeMode(
  api: FakeKubeApi,
  cleanups: Array<() => Promise<void> | void>,
  options: { logger: Logger; token?: string; config?: Partial<MeshdConfig> },
): Promise<Awaited<ReturnType<typeof serve>>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshd-kube-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfigYaml(options.token));
  const server = await serve({ ...loopbackConfig, kubeconfig, ...options.config }, { logger: options.logger });
  cleanups.push(() => server.close());
  return server;
}
