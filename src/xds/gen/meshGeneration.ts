// The xDS layer's part of the push pipeline, which serve (the composition
// root) hands to MeshPipeline: which generator family serves each proxy, and
// which cached results a new push context keeps after a batch of changes.
// The push layer decides what a change touches (ChangeImpact); only this
// layer knows how its cached results depend on it (cache.ts).
import type { ChangeImpact } from '../../push/changes.js';
import { secretDependency } from '../../push/contextMemo.js';
import type { PipelineGeneration } from '../../push/pipeline.js';
import { reusableEntries, type TypeChange } from './cache.js';
import { GatewayGenerator } from './gateway/generator.js';
import { GrpcGenerator } from './grpc/generator.js';
import { SidecarGenerator } from './sidecar/generator.js';

export const meshGeneration: PipelineGeneration = {
  /** Dispatches to the generator family of each proxy: sidecars, routers (gateways), and proxyless gRPC (GENERATOR=grpc). */
  generator(contextOf, logger) {
    const sidecar = new SidecarGenerator(contextOf, logger);
    const grpc = new GrpcGenerator(contextOf);
    const gateway = new GatewayGenerator(contextOf, logger);
    return {
      generate: (proxy, watched, request) => {
        // Proxyless gRPC workloads announce themselves with node metadata GENERATOR=grpc, as with istiod.
        if (proxy.generator === 'grpc') return grpc.generate(proxy, watched, request);
        return proxy.type === 'sidecar' ? sidecar.generate(proxy, watched, request) : gateway.generate(proxy, watched, request);
      },
    };
  },
  reusableResults: (previous, impacts) => reusableEntries(previous, typeChanges(impacts)),
};

/** How the batch touches each xDS type: everywhere, or only through some services' endpoints and pods and some Secrets. */
function typeChanges(impacts: readonly ChangeImpact[]): Map<string, TypeChange> | 'all' {
  const changes = new Map<string, TypeChange>();
  for (const impact of impacts) {
    if (impact.types === 'all') return 'all';
    const limited = impact.servicesOf || impact.secretsOf;
    const dependencies = [...(impact.servicesOf ?? []), ...(impact.secretsOf ?? []).map((s) => secretDependency(s.namespace, s.name))];
    for (const type of impact.types) {
      const sofar = changes.get(type);
      if (sofar === 'all') continue;
      changes.set(type, limited ? new Set([...(sofar ?? []), ...dependencies]) : 'all');
    }
  }
  return changes;
}
