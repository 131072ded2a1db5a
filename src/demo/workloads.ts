// The demo's proxyless gRPC servers, one per Pod of the demo mesh: the Pods
// in the config directory say where each listens (podIP and its container
// port named `grpc`) and which version it is.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseManifests } from '../sources/files/parseManifests.js';
import type { KubeObject } from '../model/kube.js';
import type { ProxylessIdentity } from './bootstrap.js';

export interface DemoWorkload {
  identity: ProxylessIdentity;
  address: string;
  version: string;
}

interface PodShape {
  spec?: { serviceAccountName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { podIP?: string };
}

/** The workload a Pod describes, or undefined when it has no `grpc` container port or no IP. */
export function workloadOfPod(pod: KubeObject): DemoWorkload | undefined {
  const { spec, status } = pod as unknown as PodShape;
  const port = spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === 'grpc')?.containerPort;
  const ip = status?.podIP;
  if (!port || !ip) return undefined;
  const labels = pod.metadata.labels ?? {};
  return {
    identity: { pod: pod.metadata.name, namespace: pod.metadata.namespace ?? 'default', ip, labels, serviceAccount: spec?.serviceAccountName ?? 'default' },
    address: `${ip}:${port}`,
    version: labels.version ?? 'unversioned',
  };
}

/** Every demo workload declared by the Pods of the YAML files directly in `dir`. */
export async function readDemoWorkloads(dir: string): Promise<DemoWorkload[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  const workloads: DemoWorkload[] = [];
  for (const file of files) {
    const { objects, problems } = parseManifests(file, await readFile(path.join(dir, file), 'utf8'));
    if (problems.length > 0) throw new Error(`demo mesh ${file}:${problems[0]!.line}: ${problems[0]!.reason}`);
    for (const { object } of objects) {
      if (object.kind !== 'Pod') continue;
      const workload = workloadOfPod(object);
      if (workload) workloads.push(workload);
    }
  }
  return workloads;
}
