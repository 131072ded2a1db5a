// `npm run bench`: every benchmark, printed as JSON lines and Markdown tables
// for BENCHMARKS.md. Never part of `npm test`. `npm run bench -- NAME` runs one;
// the scale benchmark runs only when named (`npm run bench -- scale [flags]`).
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runAdsLoad } from './adsLoad.js';

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

async function runOptional(file: string, argv?: string[]): Promise<void> {
  const path = fileURLToPath(new URL(file, import.meta.url));
  if (!existsSync(path)) return;
  const mod = (await import(path)) as { main?: (argv?: string[]) => Promise<void> };
  await mod.main?.(argv);
}

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(`machine: ${machine()}`);
  if (!only || only === 'ads') {
    const sizes = (process.env.BENCH_PROXIES ?? '100,500,1000,2000').split(',').map(Number);
    console.log('\n## ADS: one shared cluster changes, time from push to the last ACK\n');
    console.log(
      '| proxies | channels | connect all (ms) | last ACK p50 (ms) | last ACK p99 (ms) | responses/change | bytes/change | encodes/change | meshd peak RSS (MB) | meshd CPU (s) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const n of sizes) {
      const r = await runAdsLoad(n);
      console.log(
        `| ${r.proxies} | ${r.channels} | ${r.connectMs} | ${r.lastAckP50Ms} | ${r.lastAckP99Ms} | ${r.responsesPerRound} | ${r.bytesPerRound} | ${r.encodesPerRound} | ${r.peakRssMb} | ${r.cpuSeconds} |`,
      );
    }
  }
  if (!only || only === 'translate') await runOptional('./translate.js');
  if (!only || only === 'ca') await runOptional('./ca.js');
  if (!only || only === 'gateway') await runOptional('./gateway.js', process.argv.slice(3));
  if (only === 'analysis') await runOptional('./analysis.js');
  if (only === 'status-heap') await runOptional('./statusHeap.js');
  if (only === 'context-reuse') await runOptional('./contextReuse.js');
  if (only === 'proxy-heap') await runOptional('./proxyHeap.js');
  // The scale benchmark takes long at its default sizes: it runs only when named, with its flags.
  if (only === 'scale') await runOptional('./scale.js', process.argv.slice(3));
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
