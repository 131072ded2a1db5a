// `/inject`: istiod's sidecar injection webhook. The API server has already
// matched the namespace (webhook selectors); the pod's own choice, host
// networking and earlier injection are checked here. The answer is a JSON
// Patch that turns the pod into the injected one; a pod that cannot be
// injected correctly is refused with the reason, never admitted half-built.
import { allowed, denied, patched, type AdmissionRequest, type AdmissionResponse, type JsonPatchOperation } from '../admissionReview.js';
import { InjectionError } from './annotations.js';
import { decidedByPod, injectionRequired } from './injectionPolicy.js';
import type { SettingsResult } from './injectionSettings.js';
import type { Pod } from './podTypes.js';
import { injectSidecar } from './sidecarInjection.js';

/** The operations that turn `before` into `after` (labels, annotations and spec are replaced whole). */
export function podPatch(before: Pod, after: Pod): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const field of ['labels', 'annotations'] as const) {
    if (JSON.stringify(before.metadata[field]) !== JSON.stringify(after.metadata[field]))
      ops.push({ op: 'add', path: `/metadata/${field}`, value: after.metadata[field] });
  }
  if (JSON.stringify(before.spec) !== JSON.stringify(after.spec)) ops.push({ op: 'replace', path: '/spec', value: after.spec });
  return ops;
}

function isPod(value: unknown): value is Pod {
  const pod = value as Pod | undefined;
  return (
    typeof pod === 'object' &&
    pod !== null &&
    typeof pod.metadata === 'object' &&
    pod.metadata !== null &&
    typeof pod.spec === 'object' &&
    pod.spec !== null &&
    Array.isArray(pod.spec.containers)
  );
}

export function injectAdmission(request: AdmissionRequest, settings: () => SettingsResult): AdmissionResponse {
  const { uid } = request;
  if (request.kind.kind !== 'Pod' || request.kind.group !== '')
    return denied(uid, `injection is for Pods, got ${request.kind.kind} (${request.kind.group || 'core'}/${request.kind.version})`);
  if (request.operation !== 'CREATE') return allowed(uid);
  if (!isPod(request.object)) return denied(uid, 'injection failed: request.object is not a Pod with metadata and spec.containers');
  const pod = request.object;
  const namespace = request.namespace || pod.metadata.namespace || 'default';
  const current = settings();
  if (!current.ok) {
    // Broken settings never stop pods that are not to be injected anyway.
    const byPod = decidedByPod(pod, namespace);
    return byPod && !byPod.inject ? allowed(uid) : denied(uid, `injection failed: ${current.error}`);
  }
  if (!injectionRequired(pod, namespace, current.settings.injector).inject) return allowed(uid);
  try {
    return patched(uid, podPatch(pod, injectSidecar(pod, namespace, current.settings)));
  } catch (err) {
    if (err instanceof InjectionError) return denied(uid, `injection failed: ${err.message}`);
    throw err;
  }
}
