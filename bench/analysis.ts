// Analysis benchmark (issue 13): what one analysis of the benchmark mesh
// costs after a pod change and after an endpoint change (pods unchanged), and
// the DestinationRule subset check (IST0173) alone in both cases.
// Run: npm run bench -- analysis [services...]
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { analyzeMesh } from '../src/analysis/index.js';
import { destinationRuleSubsets } from '../src/analysis/destinationRules.js';
import { AnalysisInput } from '../src/analysis/input.js';
import { MeshModel } from '../src/model/meshModel.js';
import type { SourceEvent } from '../src/model/kube.js';
import { analyzeMissingSubsets } from '../src/push/analysis.js';
import { PushContext } from '../src/push/pushContext.js';
import { endpointSlice, endpointsPerService, meshObjects } from './mesh.js';
import { kindValidators } from '../src/security/validation.js';

const cpuMs = (work: () => unknown): number => {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Row {
  services: number;
  /** CPU ms, medians. */
  wholeNewPods: number;
  wholeAfterEndpointChange: number;
  subsetsNewPods: number;
  subsetsPodsUnchanged: number;
  missingSubsets: number;
}

/** A pod of its own changes: the next snapshot holds other pods, so nothing derived from pods can be reused. */
const touchPods = (model: MeshModel, round: string): void =>
  void model.apply([{ type: 'upsert', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-extra', namespace: 'ns-0', labels: { round } } } }]);

function run(services: number, repeats = 11): Row {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(meshObjects(services).map((object): SourceEvent => ({ type: 'upsert', object })));
  const samples = { wholeNew: [] as number[], wholeAfter: [] as number[], subsetsNew: [] as number[], subsetsSame: [] as number[], missing: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    touchPods(model, `${r}a`);
    const context = new PushContext(model.snapshot());
    (globalThis as { gc?: () => void }).gc?.();
    samples.wholeNew.push(cpuMs(() => analyzeMesh(context)));
    samples.missing.push(cpuMs(() => analyzeMissingSubsets(context)));
    // One endpoint turns not ready (or ready again): pods are unchanged.
    model.apply([{ type: 'upsert', object: endpointSlice(0, { ready: r % 2 === 0 ? endpointsPerService - 1 : endpointsPerService }) }]);
    const next = new PushContext(model.snapshot());
    samples.wholeAfter.push(cpuMs(() => analyzeMesh(next)));
    // The IST0173/IST0174 check alone: after a pod change, and again in a later context with the same pods.
    touchPods(model, `${r}b`);
    const fresh = new PushContext(model.snapshot());
    samples.subsetsNew.push(cpuMs(() => destinationRuleSubsets(new AnalysisInput(fresh))));
    model.apply([{ type: 'upsert', object: endpointSlice(1, { ready: r % 2 === 0 ? endpointsPerService - 1 : endpointsPerService }) }]);
    const samePods = new PushContext(model.snapshot());
    samples.subsetsSame.push(cpuMs(() => destinationRuleSubsets(new AnalysisInput(samePods))));
  }
  return {
    services,
    wholeNewPods: median(samples.wholeNew),
    wholeAfterEndpointChange: median(samples.wholeAfter),
    subsetsNewPods: median(samples.subsetsNew),
    subsetsPodsUnchanged: median(samples.subsetsSame),
    missingSubsets: median(samples.missing),
  };
}

export async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  run(100, 1); // warm up the JIT
  console.log('\n## Analysis of the benchmark mesh (CPU ms, medians of 11)\n');
  console.log(
    '| services | whole analysis after a pod change | whole analysis after an endpoint change | IST0173/IST0174 subset check after a pod change | same check, pods unchanged | push-path IST0101 missing subsets |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const n of sizes.length > 0 ? sizes : [100, 1000, 2000]) {
    const r = run(n);
    const f = (x: number): string => x.toFixed(1);
    console.log(
      `| ${r.services} | ${f(r.wholeNewPods)} | ${f(r.wholeAfterEndpointChange)} | ${f(r.subsetsNewPods)} | ${f(r.subsetsPodsUnchanged)} | ${f(r.missingSubsets)} |`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
