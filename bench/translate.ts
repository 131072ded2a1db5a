// Translation benchmark (issue 3): push context build, one sidecar's CDS+EDS+
// LDS+RDS, and 2,000 sidecars sharing one configuration scope, for meshes of
// 100 to 5,000 services with 2 subsets each and 5 endpoints per service.
// Run: npm run build && node --expose-gc dist/bench/translate.js [serviceCounts...]
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { MeshModel } from '../src/model/meshModel.js';
import type { SourceEvent } from '../src/model/kube.js';
import { parseProxy, type Proxy } from '../src/model/proxy.js';
import { PushContext, defaultPushContextOptions } from '../src/push/pushContext.js';
import { changeThrough, reusableEntries } from '../src/push/contextCache.js';
import { SidecarGenerator } from '../src/xds/gen/sidecar/generator.js';
import { TypeUrl, type XdsResource } from '../src/xds/resource.js';
import { endpointSlice, endpointsPerService, meshObjects, sidecarNodeId } from './mesh.js';
import { kindValidators } from '../src/security/validation.js';

export function sidecar(i: number, namespace = 'ns-0'): Proxy {
  return parseProxy({
    id: sidecarNodeId(i, namespace),
    metadata: { NAMESPACE: namespace, LABELS: { app: 'client' } },
  });
}

const wildcard = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });
const request = { version: 'bench', reason: ['bench'], startedAt: 0 };

function generateAll(generator: SidecarGenerator, proxy: Proxy): XdsResource[][] {
  return [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.ClusterLoadAssignment].map(
    (typeUrl) => generator.generate(proxy, wildcard(typeUrl), request) as XdsResource[],
  );
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Wall and CPU milliseconds of `work`; CPU time is what matters on a machine shared with other jobs. */
function measure<T>(work: () => T): { wallMs: number; cpuMs: number; result: T } {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  const result = work();
  const used = process.cpuUsage(cpu);
  return { wallMs: ms(wall), cpuMs: (used.user + used.system) / 1000, result };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Row {
  services: number;
  endpoints: number;
  resources: number;
  bytes: number;
  /** [wall, cpu] medians in ms */
  pushContext: [number, number];
  oneSidecar: [number, number];
  /** The first sidecar of a second namespace (another scope) in the same push context. */
  otherNamespace: [number, number];
  /** The same sidecar again after one endpoint change, with the results the change leaves valid kept. */
  afterEndpointChange: [number, number];
  sidecars2000: [number, number];
  otherSidecarsUs: [number, number];
}

function run(services: number, repeats = 5): Row {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(meshObjects(services).map((object): SourceEvent => ({ type: 'upsert', object })));
  const samples = {
    pc: [] as number[][],
    one: [] as number[][],
    all: [] as number[][],
    rest: [] as number[][],
    otherNamespace: [] as number[][],
    afterChange: [] as number[][],
  };
  // Counts only: holding the last round's resources would keep its memory from the next round.
  let output = { resources: 0, bytes: 0 };
  for (let r = 0; r < repeats; r++) {
    const built = measure(() => new PushContext(model.snapshot()));
    samples.pc.push([built.wallMs, built.cpuMs]);
    const generator = new SidecarGenerator(() => built.result);
    // Collect the previous round's garbage first (with --expose-gc, as `npm run bench` runs), so it is not billed here.
    (globalThis as { gc?: () => void }).gc?.();
    const first = measure(() => generateAll(generator, sidecar(0)).flat());
    output = { resources: first.result.length, bytes: first.result.reduce((sum, x) => sum + x.any.length, 0) };
    samples.one.push([first.wallMs, first.cpuMs]);
    // 1,999 more sidecars in the same scope and context: they should cost next to nothing.
    const rest = measure(() => {
      for (let i = 1; i < 2000; i++) generateAll(generator, sidecar(i));
    });
    samples.rest.push([(rest.wallMs / 1999) * 1000, (rest.cpuMs / 1999) * 1000]);
    samples.all.push([first.wallMs + rest.wallMs, first.cpuMs + rest.cpuMs]);
    // The first sidecar of another namespace: another scope, which shares per-service results.
    const other = measure(() => generateAll(generator, sidecar(0, 'ns-1')));
    samples.otherNamespace.push([other.wallMs, other.cpuMs]);
    // One endpoint of svc-0 turns not ready (or ready again): the push context after it keeps
    // every result the change leaves valid, as the pipeline does, and the sidecar is generated again.
    model.apply([{ type: 'upsert', object: endpointSlice(0, { ready: r % 2 === 0 ? endpointsPerService - 1 : endpointsPerService }) }]);
    const next = new PushContext(model.snapshot(), defaultPushContextOptions, built.result.encodings);
    for (const [key, value] of reusableEntries(
      built.result.cache,
      changeThrough([TypeUrl.ClusterLoadAssignment], { services: [`svc-0.ns-0.svc.${defaultPushContextOptions.domainSuffix}`] }),
    )) {
      next.cache.set(key, value);
    }
    const nextGenerator = new SidecarGenerator(() => next);
    (globalThis as { gc?: () => void }).gc?.();
    const again = measure(() => generateAll(nextGenerator, sidecar(0)));
    samples.afterChange.push([again.wallMs, again.cpuMs]);
  }
  const pick = (list: number[][]): [number, number] => [median(list.map((x) => x[0]!)), median(list.map((x) => x[1]!))];
  return {
    services,
    endpoints: services * endpointsPerService,
    resources: output.resources,
    bytes: output.bytes,
    pushContext: pick(samples.pc),
    oneSidecar: pick(samples.one),
    otherNamespace: pick(samples.otherNamespace),
    afterEndpointChange: pick(samples.afterChange),
    sidecars2000: pick(samples.all),
    otherSidecarsUs: pick(samples.rest),
  };
}

/** Prints the translation table; sizes from the command line (`node dist/bench/translate.js 100 1000`) or BENCH_SERVICES. */
export async function main(): Promise<void> {
  const fromArgs = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const fromEnv = (process.env.BENCH_SERVICES ?? '')
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  const sizes = fromArgs.length > 0 ? fromArgs : fromEnv.length > 0 ? fromEnv : [100, 500, 1000, 2000, 5000];
  // The very first generation in a fresh process also pays for loading the protos and compiling (JIT) the code.
  const coldSize = sizes.includes(1000) ? 1000 : sizes[0]!;
  const cold = run(coldSize, 1);
  run(50, 1); // warm up the JIT and the proto root
  console.log(`\n## Translation: push context and sidecar generation (issue 3)\n`);
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  const pair = ([wall, cpu]: [number, number]): string => `${wall.toFixed(1)} / ${cpu.toFixed(1)}`;
  console.log(`First generation in a fresh process (${coldSize} services, proto loading and JIT included): ${pair(cold.oneSidecar)} ms\n`);
  console.log('Medians of 5 runs, wall / CPU. CPU time is the figure to trust on a shared machine.');
  console.log(
    '| services | endpoints | resources (1 sidecar) | bytes | push context ms | 1 sidecar CDS+EDS+LDS+RDS ms | 2,000 sidecars, 1 scope, ms | each further sidecar µs | first sidecar of another namespace ms | 1 sidecar after an endpoint change ms |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of sizes) {
    const r = run(n);
    console.log(
      `| ${r.services} | ${r.endpoints} | ${r.resources} | ${r.bytes} | ${pair(r.pushContext)} | ${pair(r.oneSidecar)} | ${pair(r.sidecars2000)} | ${pair(r.otherSidecarsUs)} | ${pair(r.otherNamespace)} | ${pair(r.afterEndpointChange)} |`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
