// `npm start` (`meshd demo`): meshd on the bundled demo mesh, one proxyless
// gRPC server per demo Pod, and a client printing live counts per version.
// Edit demo/routing.yaml while it runs and watch the counts move.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import { defaultConfig, type Meshd } from '../meshd.js';
import { serve } from '../serve/index.js';
import { grpcBootstrap } from './bootstrap.js';
import { startEchoServer, type EchoServer } from './echo.js';
import { startLiveCounts } from './liveCounts.js';
import { readDemoWorkloads } from './workloads.js';

export interface DemoOptions {
  signal?: AbortSignal;
  /** The mesh to serve; defaults to the repository's demo/ directory. */
  configDir?: string;
  /** meshd's ports; defaults to istiod's (15010, 15012, 15014) so meshctl needs no --server. */
  ports?: { xds?: number; secure?: number; http?: number };
  /** Where the banner and the live counts go (stdout by default). */
  print?: (line: string) => void;
  logger?: Logger;
}

export const demoService = { host: 'echo.demo.svc.cluster.local', port: 7070 } as const;

/** The bundled demo/ directory: found by walking up from this module (src/demo or dist/src/demo). */
export function bundledDemoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'demo', 'routing.yaml'))) return path.join(dir, 'demo');
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the bundled demo/ directory next to package.json');
}

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const configDir = opts.configDir ?? bundledDemoDir();
  // Warnings only: a misconfiguration (IST0101, a rejected object) shows up between the counts.
  const logger = opts.logger ?? createLogger('warn');
  const workloads = await readDemoWorkloads(configDir);
  if (workloads.length === 0) throw new Error(`the demo mesh in ${configDir} declares no Pod with a container port named grpc`);

  let meshd: Meshd | undefined;
  const servers: EchoServer[] = [];
  let counts: { stop(): Promise<void> } | undefined;
  try {
    meshd = await serve(
      {
        ...defaultConfig,
        configDir,
        host: '127.0.0.1',
        xdsPort: opts.ports?.xds ?? defaultConfig.xdsPort,
        securePort: opts.ports?.secure ?? defaultConfig.securePort,
        httpPort: opts.ports?.http ?? defaultConfig.httpPort,
        controlPlaneId: 'meshd-demo',
        drainGraceMs: 1_000,
      },
      { logger },
    );
    const xdsAddress = `127.0.0.1:${meshd.ports.xds}`;
    for (const w of workloads) {
      servers.push(await startEchoServer({ address: w.address, pod: w.identity.pod, version: w.version, bootstrap: grpcBootstrap(xdsAddress, w.identity) }));
    }
    const server = meshd.ports.http === defaultConfig.httpPort ? '' : ` --server http://127.0.0.1:${meshd.ports.http}`;
    print(`meshd demo: control plane xDS on ${xdsAddress}, debug API on http://127.0.0.1:${meshd.ports.http}`);
    print(`  proxyless gRPC servers: ${workloads.map((w) => `${w.identity.pod} (${w.version}) on ${w.address}`).join(', ')}`);
    print(`  client: xds:///${demoService.host}:${demoService.port}, calls answered per version each second below`);
    print(`Edit ${path.join(configDir, 'routing.yaml')} (weights, matches) and save: the counts follow.`);
    print(`See the proxies: npx meshctl proxy-status${server}   Stop: Ctrl-C`);
    const versions = [...new Set(workloads.map((w) => w.version))].sort();
    counts = startLiveCounts({
      target: `xds:///${demoService.host}:${demoService.port}`,
      bootstrap: grpcBootstrap(xdsAddress, { pod: 'demo-client', namespace: 'demo', ip: '127.0.0.1', labels: { app: 'demo-client' } }),
      versions,
      print,
      pauseMs: 20,
    });
    await waitForAbort(opts.signal);
    print('stopping the demo');
  } finally {
    await counts?.stop();
    await Promise.all(servers.map((s) => s.close()));
    await meshd?.close();
  }
}
