// The mesh most gRPC end-to-end tests share: service `echo` in `default`
// with pods for versions v1, v2 and v3 (xDS-enabled servers), a
// DestinationRule defining those subsets, and a proxyless client.
import type { EchoClient, EchoServer } from '../../src/demo/echo.js';
import {
  destinationRuleObject,
  namespaceObject,
  serviceObject,
  virtualServiceObject,
  workloadObjects,
  xdsTarget,
  type EchoServiceSpec,
  type EchoWorkload,
} from '../../src/demo/mesh.js';
import type { KubeObject } from '../../src/model/kube.js';
import { freePort, startGrpcMesh, type GrpcMesh } from './grpcXdsMesh.js';
import { proxylessClient, startEchoWorkloads } from './grpcXdsWorkloads.js';

export const echo: EchoServiceSpec = { namespace: 'default', service: 'echo', servicePort: 7070 };

export interface EchoScenario {
  mesh: GrpcMesh;
  workloads: EchoWorkload[];
  servers: EchoServer[];
  client: EchoClient;
  /** Replaces the VirtualService's http rules (file `routing.yaml`). */
  route(http: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export function meshObjects(workloads: readonly EchoWorkload[]): KubeObject[] {
  return [namespaceObject(echo.namespace), serviceObject(echo), ...workloads.flatMap((w) => workloadObjects(echo, w))];
}

export async function startEchoScenario(options: { versions?: string[]; http?: unknown[]; failEvery?: Record<string, number> } = {}): Promise<EchoScenario> {
  const versions = options.versions ?? ['v1', 'v2', 'v3'];
  const workloads: EchoWorkload[] = [];
  for (const version of versions) workloads.push({ pod: `echo-${version}`, version, port: await freePort() });
  const routing = (http: unknown[]): KubeObject[] => [destinationRuleObject(echo, versions), virtualServiceObject(echo, http)];
  const mesh = await startGrpcMesh({
    'mesh.yaml': meshObjects(workloads),
    'routing.yaml': routing(options.http ?? [{ route: [{ destination: { host: 'echo', subset: 'v1' } }] }]),
  });
  const servers = await startEchoWorkloads(mesh, echo, workloads, options.failEvery);
  const client = proxylessClient(mesh, xdsTarget(echo));
  return {
    mesh,
    workloads,
    servers,
    client,
    route: (http) => mesh.write('routing.yaml', routing(http)),
    close: async () => {
      client.close();
      await Promise.all(servers.map((s) => s.close()));
      await mesh.close();
    },
  };
}
