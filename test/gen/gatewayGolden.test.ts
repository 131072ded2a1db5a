// Golden gateway scenarios: test/golden/gateways/<scenario>.in.yaml →
// <scenario>.<pod>.out.json per Pod annotated `golden.meshd.io/proxy: router`,
// with the SDS secrets its listeners name. Regenerate with UPDATE_GOLDEN=1
// and review the diff.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { envoyProblems, encodedResourceProblems } from '../support/envoyValidation.js';
import { loadGoldenMesh } from '../support/goldenMesh.js';
import { duplicateChainProblems, withoutEmptyCollections } from '../support/goldenOutput.js';

const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden/gateways');
const update = process.env.UPDATE_GOLDEN === '1';
const scenarios = readdirSync(goldenDir).filter((f) => f.endsWith('.in.yaml')).map((f) => f.slice(0, -'.in.yaml'.length)).sort();

const wildcard = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });
const named = (typeUrl: string, names: string[]) => ({ typeUrl, wildcard: false, names: new Set(names) });
const request = { version: 'golden', reason: ['golden'], startedAt: 0 };

describe('golden gateway output', () => {
  it('has scenarios', () => expect(scenarios.length).toBeGreaterThan(0));

  for (const scenario of scenarios) {
    const mesh = loadGoldenMesh(path.join(goldenDir, `${scenario}.in.yaml`));
    const generator = new GatewayGenerator(() => mesh.context);
    describe(scenario, () => {
      it('declares at least one router', () => expect(mesh.routers.length).toBeGreaterThan(0));
      for (const proxy of mesh.routers) {
        it(`${proxy.podName}: matches the snapshot and passes Envoy proto and validation-rule checks`, () => {
          const clusters = generator.generate(proxy, wildcard(TypeUrl.Cluster), request)!;
          const listeners = generator.generate(proxy, wildcard(TypeUrl.Listener), request)!;
          const listenerJson = listeners.map((l) => decodeAnyToJson(l.any));
          const text = JSON.stringify(listenerJson);
          const routeNames = [...new Set([...text.matchAll(/"routeConfigName":"([^"]+)"/g)].map((m) => m[1]!))];
          // Envoy asks for the secrets its listeners name over ADS (credentialName), not the agent's.
          const secretNames = [...new Set([...text.matchAll(/"name":"(kubernetes:\/\/[^"]+)"/g)].map((m) => m[1]!))];
          const routes = generator.generate(proxy, named(TypeUrl.RouteConfiguration, routeNames), request)!;
          const secrets = generator.generate(proxy, named(TypeUrl.Secret, secretNames), request)!;
          const clusterJson = clusters.map((c) => decodeAnyToJson(c.any));
          const edsNames = clusterJson.filter((c) => c.type === 'EDS').map((c) => String(c.name));
          const endpoints = generator.generate(proxy, named(TypeUrl.ClusterLoadAssignment, edsNames), request)!;

          const problems = [...clusters, ...listeners, ...routes, ...endpoints, ...secrets].flatMap((r) => encodedResourceProblems(r.any).map((p) => `${r.name}: ${p}`));
          const built = generator.describe(mesh.context, proxy);
          for (const [typeUrl, list] of [[TypeUrl.Cluster, built.clusters], [TypeUrl.Listener, built.listeners], [TypeUrl.RouteConfiguration, built.routes], [TypeUrl.Secret, built.secrets]] as const) {
            for (const json of list) problems.push(...envoyProblems(typeUrl, json).map((p) => `${String(json.name)}: ${p}`));
          }
          problems.push(...duplicateChainProblems(listenerJson));
          expect(problems).toEqual([]);
          expect(routes.map((r) => r.name).sort()).toEqual(routeNames.slice().sort());
          expect(endpoints.map((e) => e.name).sort()).toEqual(edsNames.slice().sort());

          const actual = withoutEmptyCollections({
            clusters: clusterJson,
            listeners: listenerJson,
            routes: routes.map((r) => decodeAnyToJson(r.any)),
            endpoints: endpoints.map((e) => decodeAnyToJson(e.any)),
            secrets: secrets.map((s) => decodeAnyToJson(s.any)),
          });
          const file = path.join(goldenDir, `${scenario}.${proxy.podName}.out.json`);
          if (update) writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
          if (!existsSync(file)) throw new Error(`missing golden ${file}: run with UPDATE_GOLDEN=1 and review it`);
          expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
        });
      }
    });
  }
});
