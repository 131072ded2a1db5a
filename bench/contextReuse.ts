// Push context build after one change, as the pipeline builds it (on the
// previous context), issue 13: an endpoint change and a Pod relabel in the
// benchmark mesh; and a VirtualService edit with the sidecar route
// configurations of every scope it reaches, generated on the results the new
// context keeps. Run: npm run bench -- context-reuse [services...]
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { KubeObject, SourceEvent } from '../src/model/kube.js';
import { MeshModel } from '../src/model/meshModel.js';
import { PushContext, defaultPushContextOptions } from '../src/push/pushContext.js';
import { endpointSlice, endpointsPerService, meshNamespaces, meshObjects, servicePod, sidecarNodeId, sidecarNodeMetadata, virtualService } from './mesh.js';
import { kindValidators } from '../src/security/validation.js';
import { reusableEntries, type CacheChange } from '../src/push/contextCache.js';
import { cacheChangeOf, changeImpact } from '../src/push/changes.js';
import { parseProxy } from '../src/model/proxy.js';
import { SidecarGenerator } from '../src/xds/gen/sidecar/generator.js';
import { TypeUrl } from '../src/xds/resource.js';

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

/** What a VirtualService edit evicted before route configurations declared their hosts: every RDS result. */
const everyRoute: CacheChange = {
  types: new Map([[TypeUrl.RouteConfiguration, 'all']]),
  objects: { services: new Set(), secrets: new Set(), routing: new Set(), gateways: new Set() },
};

/**
 * A VirtualService edit: the new context, seeded as the pipeline seeds it, and the route configurations of
 * one sidecar per namespace (every scope of the mesh); against the same with every RDS result evicted.
 */
function virtualServiceEdit(services: number, rounds = 11): { narrowed: number; everyRoute: number } {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(meshObjects(services).map((object): SourceEvent => ({ type: 'upsert', object })));
  let context = new PushContext(model.snapshot());
  const generator = new SidecarGenerator(() => context);
  const proxies = Array.from({ length: meshNamespaces }, (_, n) =>
    parseProxy({ id: sidecarNodeId(n, `ns-${n}`), metadata: sidecarNodeMetadata(n, `ns-${n}`) }),
  );
  const request = { version: 'bench', reason: ['bench'], startedAt: 0 };
  const routes = (): void => {
    for (const proxy of proxies) generator.generate(proxy, { typeUrl: TypeUrl.RouteConfiguration, wildcard: true, names: new Set() }, request);
  };
  routes();
  const samples = { narrowed: [] as number[], everyRoute: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['narrowed', 'everyRoute'] as const) {
      const changes = model.apply([{ type: 'upsert', object: virtualService(0, `${mode}-${r}`) }]);
      const previous = context;
      samples[mode].push(
        cpuMs(() => {
          context = new PushContext(model.snapshot(), defaultPushContextOptions, previous.encodings, previous);
          const change = mode === 'narrowed' ? cacheChangeOf(changes.map((c) => changeImpact(c, previous, context))) : everyRoute;
          for (const [key, value] of reusableEntries(previous.cache, change)) context.cache.set(key, value);
          routes();
        }),
      );
    }
  }
  return { narrowed: median(samples.narrowed), everyRoute: median(samples.everyRoute) };
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
  console.log(`\n## VirtualService edit: push context and the route configurations of ${meshNamespaces} scopes (CPU ms, medians of 11)\n`);
  console.log('| services | every route configuration rebuilt | only those reading the edited hosts |\n|---:|---:|---:|');
  for (const n of sizes.length > 0 ? sizes : [1000]) {
    const r = virtualServiceEdit(n);
    console.log(`| ${n} | ${r.everyRoute.toFixed(1)} | ${r.narrowed.toFixed(1)} |`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
