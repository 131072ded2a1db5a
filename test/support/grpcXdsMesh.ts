// meshd in-process over a temporary config directory, for proxyless gRPC
// end-to-end tests: files in, real xDS out on ephemeral loopback ports.
// meshd starts exactly as `meshd serve --config-dir DIR` starts it.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeObject } from '../../src/model/kube.js';
import { defaultConfig } from '../../src/meshd.js';
import { serve } from '../../src/serve/index.js';
import { grpcBootstrap, type GrpcBootstrap, type ProxylessIdentity } from '../../src/demo/bootstrap.js';
import { toYaml } from '../../src/demo/mesh.js';
import { waitFor } from './captureLogger.js';
import { captureLogs, getJson, type LogCapture } from './meshdHarness.js';
export interface GrpcMesh {
  /** The resources meshd last sent to a proxy (its /debug/config_dump). */
  configDump(proxyId: string): Promise<unknown>;
  readonly dir: string;
  readonly xdsAddress: string;
  readonly httpUrl: string;
  readonly logs: LogCapture;
  /** Writes (atomically replaces) one YAML file of the config directory. */
  write(file: string, objects: readonly KubeObject[]): Promise<void>;
  remove(file: string): Promise<void>;
  bootstrap(identity: ProxylessIdentity): GrpcBootstrap;
  close(): Promise<void>;
}

/** Starts meshd on a temp config dir holding `files` (name → objects); resolves once the files are loaded. */
export async function startGrpcMesh(files: Record<string, readonly KubeObject[]>): Promise<GrpcMesh> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-grpc-'));
  const write = async (file: string, objects: readonly KubeObject[]): Promise<void> => {
    const target = path.join(dir, file);
    // Rename makes the change atomic, so the watcher never reads a half-written file.
    const temp = path.join(dir, `.${file}.tmp`);
    await writeFile(temp, toYaml(objects));
    await rename(temp, target);
  };
  for (const [file, objects] of Object.entries(files)) await write(file, objects);
  const { logger, logs } = captureLogs('info');
  const meshd = await serve(
    {
      ...defaultConfig,
      configDir: dir,
      host: '127.0.0.1',
      xdsPort: 0,
      securePort: 0,
      httpPort: 0,
      controlPlaneId: 'istiod-test',
      drainGraceMs: 2_000,
      logLevel: 'info',
    },
    { logger },
  );
  const xdsAddress = `127.0.0.1:${meshd.ports.xds}`;
  const httpUrl = `http://127.0.0.1:${meshd.ports.http}`;
  await waitFor(() => logs.find((l) => l.msg === 'configuration sources synced') !== undefined, 'the config directory to load', 10_000);
  return {
    dir,
    xdsAddress,
    httpUrl,
    logs,
    write,
    remove: (file) => rm(path.join(dir, file), { force: true }),
    bootstrap: (identity) => grpcBootstrap(xdsAddress, identity),
    configDump: async (proxyId) => (await getJson(`${httpUrl}/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`)).body,
    close: async () => {
      await meshd.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// xDS servers must know their port before they bind, and bind all interfaces.
export { freePort } from './ports.js';
