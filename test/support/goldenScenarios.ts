// The golden scenario runner shared by the sidecar and gateway goldens:
// DIR/<scenario>.in.yaml → DIR/<scenario>.<pod>.out.json for every proxy the
// scenario declares, generated the way Envoy asks (CDS and LDS wildcard, then
// RDS, EDS and SDS by the names they carry), checked against Envoy's protos,
// their protoc-gen-validate rules and Envoy's duplicate-chain rule, and
// compared with the snapshot. Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Proxy } from '../../src/model/proxy.js';
import type { PushContext } from '../../src/push/pushContext.js';
import type { ResourceGenerator } from '../../src/xds/server/types.js';
import { consistencyProblems, referencedEdsNames, referencedRouteNames } from '../../src/xds/consistency.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { envoyProblems, encodedResourceProblems } from './envoyValidation.js';
import { loadGoldenMesh, type GoldenMesh } from './goldenMesh.js';
import { duplicateChainProblems, withoutEmptyCollections } from './goldenOutput.js';

type Json = Record<string, unknown>;

interface GoldenGenerator extends ResourceGenerator {
  describe(context: PushContext, proxy: Proxy): Partial<Record<'clusters' | 'listeners' | 'routes' | 'endpoints' | 'secrets', Json[]>>;
}

export interface GoldenSuite {
  title: string;
  dir: string;
  generatorFor(mesh: GoldenMesh): GoldenGenerator;
  proxiesOf(mesh: GoldenMesh): Proxy[];
  /** Also ask for the `kubernetes://` and `kubernetes-gateway://` secrets the listeners name (gateways' credentialName). */
  secrets?: boolean;
}

const wildcard = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });
const named = (typeUrl: string, names: string[]) => ({ typeUrl, wildcard: false, names: new Set(names) });
const request = { version: 'golden', reason: ['golden'], startedAt: 0 };
const described = [
  ['clusters', TypeUrl.Cluster],
  ['listeners', TypeUrl.Listener],
  ['routes', TypeUrl.RouteConfiguration],
  ['endpoints', TypeUrl.ClusterLoadAssignment],
  ['secrets', TypeUrl.Secret],
] as const;

export function goldenSuite(suite: GoldenSuite): void {
  const update = process.env.UPDATE_GOLDEN === '1';
  const scenarios = readdirSync(suite.dir)
    .filter((f) => f.endsWith('.in.yaml'))
    .map((f) => f.slice(0, -'.in.yaml'.length))
    .sort();
  describe(suite.title, () => {
    it('has scenarios', () => expect(scenarios.length).toBeGreaterThan(0));
    for (const scenario of scenarios) {
      const mesh = loadGoldenMesh(path.join(suite.dir, `${scenario}.in.yaml`));
      const generator = suite.generatorFor(mesh);
      describe(scenario, () => {
        it('declares at least one proxy', () => expect(suite.proxiesOf(mesh).length).toBeGreaterThan(0));
        for (const proxy of suite.proxiesOf(mesh)) {
          it(`${proxy.podName}: matches the snapshot and passes Envoy proto and validation-rule checks`, () => {
            const clusters = generator.generate(proxy, wildcard(TypeUrl.Cluster), request)!;
            const listeners = generator.generate(proxy, wildcard(TypeUrl.Listener), request)!;
            const listenerJson = listeners.map((l) => decodeAnyToJson(l.any));
            const text = JSON.stringify(listenerJson);
            const routeNames = [...new Set([...referencedRouteNames(listenerJson).values()].flatMap((names) => [...names]))];
            const routes = generator.generate(proxy, named(TypeUrl.RouteConfiguration, routeNames), request)!;
            // Envoy asks for the secrets its listeners name over ADS (credentialName), not the agent's.
            const secretNames = [...new Set([...text.matchAll(/"name":"(kubernetes(?:-gateway)?:\/\/[^"]+)"/g)].map((m) => m[1]!))];
            const secrets = suite.secrets ? generator.generate(proxy, named(TypeUrl.Secret, secretNames), request)! : [];
            const clusterJson = clusters.map((c) => decodeAnyToJson(c.any));
            // Envoy asks for each EDS cluster's service name (istiod sets it to the cluster's name).
            const edsNames = [...new Set(referencedEdsNames(clusterJson).values())];
            const endpoints = generator.generate(proxy, named(TypeUrl.ClusterLoadAssignment, edsNames), request)!;

            const problems = [...clusters, ...listeners, ...routes, ...endpoints, ...secrets].flatMap((r) =>
              encodedResourceProblems(r.any).map((p) => `${r.name}: ${p}`),
            );
            const built = generator.describe(mesh.context, proxy);
            for (const [key, typeUrl] of described) {
              for (const json of built[key] ?? []) problems.push(...envoyProblems(typeUrl, json).map((p) => `${String(json.name ?? json.clusterName)}: ${p}`));
            }
            // Envoy rejects a listener with two filter chains matching the same traffic.
            problems.push(...duplicateChainProblems(listenerJson));
            expect(problems).toEqual([]);
            expect(routes.map((r) => r.name).sort()).toEqual(routeNames.slice().sort());
            expect(endpoints.map((e) => e.name).sort()).toEqual(edsNames.slice().sort());
            const routeJson = routes.map((r) => decodeAnyToJson(r.any));
            const endpointJson = endpoints.map((e) => decodeAnyToJson(e.any));
            // go-control-plane's snapshot consistency: every RDS and EDS name referenced is generated.
            const consistency = { listeners: listenerJson, clusters: clusterJson, routes: routeJson, endpoints: endpointJson };
            expect(consistencyProblems(proxy.id, consistency).map((p) => p.message)).toEqual([]);

            const actual = withoutEmptyCollections({
              clusters: clusterJson,
              listeners: listenerJson,
              routes: routeJson,
              endpoints: endpointJson,
              ...(suite.secrets ? { secrets: secrets.map((s) => decodeAnyToJson(s.any)) } : {}),
            });
            const file = path.join(suite.dir, `${scenario}.${proxy.podName}.out.json`);
            if (update) writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
            if (!existsSync(file)) throw new Error(`missing golden ${file}: run with UPDATE_GOLDEN=1 and review it`);
            expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
          });
        }
      });
    }
  });
}
