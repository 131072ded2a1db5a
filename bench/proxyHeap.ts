// meshd's JS heap per connected proxy, end to end (issue 13): the real
// pipeline in this process over a fixed mesh (bench/mesh.ts), N simulated
// Envoys (bench/envoySim.ts, their own process) connect over SotW ADS and
// sync; heap after gc once synced, less the heap before they connected,
// divided by N. Run: npm run bench -- proxy-heap [proxies] [services] [--heap-profile FILE]
// With --heap-profile, V8's sampling heap profiler runs from before the proxies
// connect to the synced moment and FILE gets what they left on the heap, per
// allocation site (`node dist/bench/profileSummary.js FILE`).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { defaultConfig, startMeshd } from '../src/meshd.js';
import type { ConfigSource, SourceEventSink } from '../src/model/kube.js';
import { MeshPipeline } from '../src/push/pipeline.js';
import { meshPipelineOptions } from '../src/serve/pipelineOptions.js';
import type { SimEvent } from './envoySim.js';
import { clientPod, meshObjects, namespaceObjects } from './mesh.js';

class FixedSource implements ConfigSource {
  synced = false;
  constructor(
    private readonly services: number,
    private readonly clients: number,
  ) {}
  async start(sink: SourceEventSink): Promise<void> {
    const objects = [...namespaceObjects(), ...meshObjects(this.services), ...Array.from({ length: this.clients }, (_, i) => clientPod(i))];
    sink(objects.map((object) => ({ type: 'upsert', object })));
    this.synced = true;
  }
  async stop(): Promise<void> {}
}

const heapMb = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

export async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profileAt = args.indexOf('--heap-profile');
  const profileFile = profileAt >= 0 ? args.splice(profileAt, 2)[1] : undefined;
  if (profileAt >= 0 && !profileFile) throw new Error('--heap-profile needs a file');
  const [proxies = 1000, services = 100] = args.map(Number).filter((n) => n > 0);
  const logger = pino({ level: 'warn' });
  const pipeline = new MeshPipeline(
    [new FixedSource(services, proxies)],
    meshPipelineOptions({ ...defaultConfig, debounceAfterMs: 100, debounceMaxMs: 1000 }, logger, new Registry()),
  );
  const meshd = await startMeshd(
    { ...defaultConfig, host: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, controlPlaneId: 'istiod-bench', maxStreamsPerConnection: 10_000 },
    { resources: pipeline, logger },
  );
  while (!meshd.ready) await new Promise((r) => setTimeout(r, 50));
  await pipeline.analysisIdle();
  const before = heapMb();
  const inspector = profileFile ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    await inspector.post('HeapProfiler.startSampling', { samplingInterval: 32_768 });
  }
  console.log('| proxies | services | sync (s) | heap before (MB) | heap synced (MB) | heap per proxy (KB) |\n|---:|---:|---:|---:|---:|---:|');
  const sim = fork(fileURLToPath(new URL('./envoySim.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    sim.on('message', (m: SimEvent) => {
      if (m.event === 'ready') sim.send({ cmd: 'connect', address: `127.0.0.1:${meshd.ports.xds}`, proxies, protocol: 'sotw', streamsPerChannel: 250 });
      if (m.event === 'synced') resolve();
      if (m.event === 'error') reject(new Error(m.message));
    });
  });
  const syncMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 2000));
  await meshd.ads.idle();
  const after = heapMb();
  if (inspector && profileFile) {
    const { profile } = await inspector.post('HeapProfiler.getSamplingProfile');
    await inspector.post('HeapProfiler.stopSampling');
    writeFileSync(profileFile, JSON.stringify(profile));
    inspector.disconnect();
  }
  console.log(
    `| ${proxies} | ${services} | ${(syncMs / 1000).toFixed(1)} | ${before.toFixed(0)} | ${after.toFixed(0)} | ${(((after - before) * 1024) / proxies).toFixed(0)} |`,
  );
  sim.send({ cmd: 'close' });
  sim.kill();
  await meshd.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main().then(() => process.exit(0));
