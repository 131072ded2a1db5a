// Builds a push context from a golden scenario's YAML (the same parser the
// file source uses) and the proxies it declares: every Pod annotated
// `golden.meshd.io/proxy: "true"` is a sidecar whose output is snapshotted,
// one annotated `golden.meshd.io/proxy: router` a gateway (router proxy).
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { parseManifests } from '../../src/sources/files/parseManifests.js';
import { MeshModel } from '../../src/model/meshModel.js';
import { parseProxy, type Proxy } from '../../src/model/proxy.js';
import { PushContext } from '../../src/push/pushContext.js';
import type { KubeObject } from '../../src/model/kube.js';
import { kindValidators } from '../../src/security/validation.js';

export interface GoldenMesh {
  context: PushContext;
  proxies: Proxy[];
  /** Router proxies (ingress/egress gateways). */
  routers: Proxy[];
  model: MeshModel;
}

export function proxyForPod(pod: KubeObject, type: 'sidecar' | 'router' = 'sidecar'): Proxy {
  const ns = pod.metadata.namespace ?? 'default';
  const ip = (pod.status as { podIP?: string } | undefined)?.podIP ?? '10.0.0.1';
  const labels = pod.metadata.labels ?? {};
  const [region = '', zone = '', subZone = ''] = (labels['istio-locality'] ?? '').split('.');
  return parseProxy({
    id: `${type}~${ip}~${pod.metadata.name}.${ns}~${ns}.svc.cluster.local`,
    metadata: {
      NAMESPACE: ns,
      LABELS: labels,
      SERVICE_ACCOUNT: (pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default',
      ISTIO_VERSION: '1.24.0',
      CLUSTER_ID: 'Kubernetes',
      // An east-west gateway's router mode (istiod's ROUTER_MODE), from the pod's annotation.
      ...(pod.metadata.annotations?.['golden.meshd.io/router-mode'] ? { ROUTER_MODE: pod.metadata.annotations['golden.meshd.io/router-mode'] } : {}),
    },
    locality: { region, zone, subZone },
  });
}

/** A Pod that meshFromYaml makes a proxy of (a sidecar, or a router), as a YAML document. */
export function proxyPodYaml(name: string, namespace: string, labels: Record<string, string>, ip: string, type: 'sidecar' | 'router' = 'sidecar'): string {
  const labelMap = Object.entries(labels)
    .map(([key, value]) => `${key}: ${value}`)
    .join(', ');
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {${labelMap}}, annotations: {golden.meshd.io/proxy: ${type === 'router' ? 'router' : '"true"'}}}
status: {podIP: ${ip}}
`;
}

export function loadGoldenMesh(file: string): GoldenMesh {
  return meshFromYaml(readFileSync(file, 'utf8'), file);
}

/** A mesh from inline YAML: the model, its push context and the annotated proxies. */
export function meshFromYaml(text: string, file = 'inline.yaml'): GoldenMesh {
  const { objects, problems } = parseManifests(file, text);
  if (problems.length > 0) throw new Error(`golden input ${file} is malformed: ${JSON.stringify(problems)}`);
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(objects.map(({ object, origin }) => ({ type: 'upsert' as const, object, origin })));
  const rejected = model.currentRejections();
  if (rejected.length > 0) throw new Error(`golden input ${file} has invalid objects: ${JSON.stringify(rejected)}`);
  const context = new PushContext(model.snapshot());
  const proxies = model
    .list('Pod')
    .filter(({ object }) => object.metadata.annotations?.['golden.meshd.io/proxy'] === 'true')
    .map(({ object }) => proxyForPod(object));
  const routers = model
    .list('Pod')
    .filter(({ object }) => object.metadata.annotations?.['golden.meshd.io/proxy'] === 'router')
    .map(({ object }) => proxyForPod(object, 'router'));
  return { context, proxies, routers, model };
}
