// A MeshPipeline over a file source in a temporary directory, with the
// options `meshd serve` gives it (short debounce times unless the test says
// otherwise), its pushes and log lines recorded. Call the returned
// `stop` (tests register it as a cleanup). startFileMeshd serves one over ADS.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { defaultConfig } from '../../src/meshd.js';
import { FileSource } from '../../src/sources/files/fileSource.js';
import { MeshPipeline } from '../../src/push/pipeline.js';
import { meshPipelineOptions, type PipelineConfig } from '../../src/serve/pipelineOptions.js';
import type { PushRequest } from '../../src/xds/server/types.js';
import { captureLogger, waitFor } from './captureLogger.js';
import { startTestMeshd } from './meshdHarness.js';

/** A temporary directory holding `files`; remove it when done. */
async function configDir(files: Record<string, string>, prefix = 'meshd-pipeline-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** A pipeline over a file source in `dir`, with the options `meshd serve` would give it for `config`. */
function filePipeline(dir: string, logger: Logger, registry: Registry, config: Partial<PipelineConfig>): MeshPipeline {
  return new MeshPipeline([new FileSource({ dir, logger, settleMs: 5 })], meshPipelineOptions({ ...defaultConfig, ...config }, logger, registry));
}

export async function startFilePipeline(files: Record<string, string>, config: Partial<PipelineConfig> = {}) {
  const dir = await configDir(files);
  const { logger, lines } = captureLogger();
  const registry = new Registry();
  const pipeline = filePipeline(dir, logger, registry, { debounceAfterMs: 20, debounceMaxMs: 200, ...config });
  const pushes: PushRequest[] = [];
  pipeline.onPush((r) => pushes.push(r));
  await pipeline.start();
  return {
    pipeline,
    pushes,
    lines,
    registry,
    write: (name: string, text: string) => writeFile(path.join(dir, name), text),
    /** Replaces a file whole (write then rename), so the file source never reads it half-written. */
    replace: async (name: string, text: string) => {
      await writeFile(path.join(dir, `${name}.tmp`), text);
      await rename(path.join(dir, `${name}.tmp`), path.join(dir, name));
    },
    stop: async () => {
      await pipeline.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * meshd (startTestMeshd: real gRPC on loopback) serving a file pipeline over
 * `files`, resolved once the sources synced and the initial push went out,
 * so a test's pushes are its own changes'. Register `stop` as a cleanup.
 */
export async function startFileMeshd(files: Record<string, string>) {
  const dir = await configDir(files, 'meshd-e2e-');
  const { logger, lines } = captureLogger('warn');
  const registry = new Registry();
  const pipeline = filePipeline(dir, logger, registry, { debounceAfterMs: 20, debounceMaxMs: 500 });
  const { meshd, xdsAddress, httpUrl, logs } = await startTestMeshd({ resources: pipeline, registry });
  const pushes: PushRequest[] = [];
  pipeline.onPush((r) => pushes.push(r));
  const stop = async (): Promise<void> => {
    await meshd.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => pipeline.synced, 'the configuration sources to sync');
    await waitFor(() => logs.find((l) => l.msg === 'configuration sources synced') !== undefined, 'the initial push');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    dir,
    pipeline,
    meshd,
    xdsAddress,
    httpUrl,
    logs,
    pushes,
    stop,
    /** warn and error lines of the pipeline's logger. */
    warnings: lines,
    write: (name: string, text: string) => writeFile(path.join(dir, name), text),
  };
}
