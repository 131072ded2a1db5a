// The xDS layer's part of the push pipeline, which serve (the composition
// root) hands to MeshPipeline: which generator family serves each proxy.
// Which cached results a new push context keeps is the push layer's
// (push/contextCache.ts): every entry declares what it reads.
import type { PipelineGeneration } from '../../push/pipeline.js';
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
};
