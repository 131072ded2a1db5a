// A push context after a change, seeded from the previous one as the pipeline
// seeds it (src/push/pipeline.ts, rebuild: the results no change reached are
// carried over), and everything the generators make for a set of proxies, to
// compare a seeded context's output with that of a context built from scratch.
import type { ModelChange, MeshModel } from '../../src/model/meshModel.js';
import type { Proxy } from '../../src/model/proxy.js';
import { reusableEntries } from '../../src/push/contextCache.js';
import { cacheChangeOf, changeImpact } from '../../src/push/changes.js';
import { PushContext } from '../../src/push/pushContext.js';
import { GatewayGenerator } from '../../src/xds/gen/gateway/generator.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl, type XdsResource } from '../../src/xds/resource.js';

/** The context after `changes` (already applied to `model`), holding what it carried over from `previous`. */
export function seededContext(previous: PushContext, model: MeshModel, changes: readonly ModelChange[]) {
  const next = new PushContext(model.snapshot(), previous.options, previous.encodings, previous);
  const change = cacheChangeOf(changes.map((c) => changeImpact(c, previous, next)));
  const reused = reusableEntries(previous.cache, change);
  for (const [key, value] of reused) next.cache.set(key, value);
  return { next, change, reused };
}

/** A context over the same snapshot and options that carries nothing over. */
export const fromScratch = (context: PushContext): PushContext => new PushContext(context.snapshot, context.options);

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS, Secret: SDS } = TypeUrl;
const request = { version: 'v', reason: [], startedAt: 0 };
const wildcard = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });

/** Every resource the sidecars and the routers get from `context`, as `PROXY TYPE NAME VERSION BYTES`, sorted. */
export function generateEverything(context: PushContext, sidecars: readonly Proxy[], routers: readonly Proxy[]): string[] {
  const describe = (proxy: Proxy, typeUrl: string, resources: readonly XdsResource[] | undefined) =>
    [...(resources ?? [])].map((r) => `${proxy.id} ${typeUrl} ${r.name} ${r.version} ${Buffer.from(r.any).toString('base64')}`);
  const sidecar = new SidecarGenerator(() => context);
  const gateway = new GatewayGenerator(() => context);
  return [
    ...sidecars.flatMap((p) => [CDS, LDS, RDS, EDS].flatMap((t) => describe(p, t, sidecar.generate(p, wildcard(t), request)))),
    ...routers.flatMap((p) => [CDS, LDS, RDS, EDS, SDS].flatMap((t) => describe(p, t, gateway.generate(p, wildcard(t), request)))),
  ].sort();
}
