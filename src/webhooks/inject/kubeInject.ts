// `meshctl kube-inject`: the webhook's injection applied offline to the pod
// templates of a multi-document YAML file, as `istioctl kube-inject` does.
// Documents without a pod template pass through unchanged.
import { parseAllDocuments, stringify } from 'yaml';
import { InjectionError } from './annotations.js';
import { injectionRequired } from './injectionPolicy.js';
import type { Pod, PodMeta, PodSpec } from './podTypes.js';
import { injectSidecar, type InjectionSettings } from './sidecarInjection.js';

type Doc = Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: PodMeta; spec?: Record<string, unknown> };

/** Where each kind keeps its pod template. */
function templatePath(kind: string | undefined): readonly string[] | undefined {
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'Job':
    case 'DeploymentConfig':
      return ['spec', 'template'];
    case 'CronJob':
      return ['spec', 'jobTemplate', 'spec', 'template'];
    case 'Pod':
      return [];
    default:
      return undefined;
  }
}

export class KubeInjectError extends Error {}

function injectDocument(doc: Doc, index: number, settings: InjectionSettings): Doc {
  const path = templatePath(doc.kind);
  if (!path) return doc;
  const name = doc.metadata?.name ?? '';
  const namespace = doc.metadata?.namespace ?? 'default';
  const where = `document ${index + 1} (${doc.kind} ${name || '(no name)'})`;
  let holder: Record<string, unknown> = doc;
  for (const key of path) {
    const next = holder[key];
    if (typeof next !== 'object' || next === null) throw new KubeInjectError(`${where}: ${path.join('.')} is missing`);
    holder = next as Record<string, unknown>;
  }
  const template = holder as { metadata?: PodMeta; spec?: PodSpec };
  if (!template.spec || !Array.isArray(template.spec.containers))
    throw new KubeInjectError(`${where}: ${[...path, 'spec', 'containers'].join('.') || 'spec.containers'} is missing`);
  const pod: Pod = { metadata: { ...(template.metadata ?? {}) }, spec: template.spec };
  if (!injectionRequired(pod, namespace, settings.injector).inject) return doc;
  const workload = doc.kind === 'Pod' ? undefined : { name, kind: doc.kind!, apiVersion: doc.apiVersion ?? '' };
  let injected: Pod;
  try {
    injected = injectSidecar(pod, namespace, settings, workload);
  } catch (err) {
    if (err instanceof InjectionError) throw new KubeInjectError(`${where}: ${err.message}`);
    throw err;
  }
  if (path.length === 0) return { ...doc, metadata: injected.metadata, spec: injected.spec };
  const copy = structuredClone(doc);
  let target: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path[path.length - 1]!] = { ...template, metadata: injected.metadata, spec: injected.spec };
  return copy;
}

/** The YAML stream with every pod template injected. */
export function kubeInject(text: string, settings: InjectionSettings, source = 'input'): string {
  const documents = parseAllDocuments(text);
  const out: string[] = [];
  documents.forEach((document, index) => {
    if (document.errors.length > 0) throw new KubeInjectError(`${source}: document ${index + 1}: ${document.errors[0]!.message.split('\n')[0]}`);
    const doc = document.toJS() as Doc | null;
    if (doc === null || doc === undefined) return;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new KubeInjectError(`${source}: document ${index + 1} is not a Kubernetes object`);
    try {
      out.push(stringify(injectDocument(doc, index, settings), { lineWidth: 0 }));
    } catch (err) {
      if (err instanceof KubeInjectError) throw new KubeInjectError(`${source}: ${err.message}`);
      throw err;
    }
  });
  return out.join('---\n');
}
