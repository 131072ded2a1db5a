// Push context build after one change, as the pipeline builds it (on the
// previous context), issue 13: an endpoint change and a Pod relabel in the
// benchmark mesh. Run: npm run bench -- context-reuse [services...]
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { KubeObject, SourceEvent } from '../src/model/kube.js';
import { MeshModel } from '../src/model/meshModel.js';
import { PushContext, defaultPushContextOptions } from '../src/push/pushContext.js';
import { endpointSlice, endpointsPerService, meshObjects, servicePod } from './mesh.js';
import { kindValidators } from '../src/security/validation.js';

const cpuMs = (work: () => void): number => {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function run(services: number, rounds = 31): { endpoint: number; relabel: number; scratch: number } {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(meshObjects(services).map((object): SourceEvent => ({ type: 'upsert', object })));
  let context = new PushContext(model.snapshot());
  const samples = { endpoint: [] as number[], relabel: [] as number[], scratch: [] as number[] };
  const change = (object: KubeObject): number => {
    model.apply([{ type: 'upsert', object }]);
    const previous = context;
    return cpuMs(() => (context = new PushContext(model.snapshot(), defaultPushContextOptions, previous.encodings, previous)));
  };
  for (let r = 0; r < rounds; r++) {
    samples.endpoint.push(change(endpointSlice(1, { ready: r % 2 === 0 ? endpointsPerService - 1 : endpointsPerService })));
    samples.relabel.push(change(servicePod(2, 0, r % 2 === 0 ? 'v2' : 'v1')));
    samples.scratch.push(cpuMs(() => void new PushContext(model.snapshot())));
  }
  return { endpoint: median(samples.endpoint), relabel: median(samples.relabel), scratch: median(samples.scratch) };
}

export async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  run(100, 3); // warm up the JIT
  console.log('\n## Push context build after one change (CPU ms, medians of 31)\n');
  console.log('| services | from scratch | after an endpoint change | after a Pod relabel |\n|---:|---:|---:|---:|');
  for (const n of sizes.length > 0 ? sizes : [1000]) {
    const r = run(n);
    console.log(`| ${n} | ${r.scratch.toFixed(1)} | ${r.endpoint.toFixed(1)} | ${r.relabel.toFixed(1)} |`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
