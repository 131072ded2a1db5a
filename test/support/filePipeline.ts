// A MeshPipeline over a file source in a temporary directory, with short
// debounce times, its pushes and log lines recorded. Call the returned
// `stop` (tests register it as a cleanup).
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { FileSource } from '../../src/sources/files/fileSource.js';
import { MeshPipeline } from '../../src/push/pipeline.js';
import type { PushRequest } from '../../src/xds/server/types.js';
import { captureLogger } from './captureLogger.js';

export async function startFilePipeline(files: Record<string, string>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshd-pipeline-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const { logger, lines } = captureLogger();
  const registry = new Registry();
  const pipeline = new MeshPipeline([new FileSource({ dir, logger, settleMs: 5 })], {
    debounceAfterMs: 20,
    debounceMaxMs: 200,
    logger,
    registry,
    trustDomain: 'cluster.local',
    clusterId: 'Kubernetes',
  });
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
