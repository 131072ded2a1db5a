// `/validate`: istiod's validation webhook, answered with the model's own
// validators (the table the model was built with: MeshModel.validators), so
// that what the API server admits and what the model accepts can never disagree.
import { kinds, knownKind, type KindName } from '../model/kinds.js';
import type { KubeObject } from '../model/kube.js';
import type { KindValidators } from '../model/validators.js';
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from './admissionReview.js';
import { admissionWarnings } from './warnings.js';

/** The API groups of the Istio kinds meshd reads (from the kind registry); core kinds are not validated here. */
const istioGroups = new Set(
  Object.values(kinds)
    .flatMap((k) => k.apiVersions.map((v) => v.split('/')[0]!))
    .filter((group) => group.endsWith('.istio.io')),
);

/** istiod's multi-error text: the problem itself when there is one, a bulleted count otherwise. */
export function formatProblems(problems: readonly string[]): string {
  if (problems.length === 1) return problems[0]!;
  return `${problems.length} errors occurred:\n${problems.map((p) => `\t* ${p}`).join('\n')}\n\n`;
}

export function validateAdmission(request: AdmissionRequest, validators: KindValidators): AdmissionResponse {
  const { uid, kind: gvk } = request;
  // Deletions and status writes carry nothing to validate (istiod admits them too).
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allowed(uid);
  if (request.subResource) return allowed(uid);
  const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
  const kind: KindName | undefined = istioGroups.has(gvk.group) ? knownKind(apiVersion, gvk.kind) : undefined;
  if (!kind) {
    // Istio's own configurations send every *.istio.io kind (WorkloadEntry, WorkloadGroup, ...): meshd
    // neither reads nor judges those, and refusing them would break a mesh moving from istiod.
    if (gvk.group.endsWith('.istio.io')) return allowed(uid, [`meshd does not read ${gvk.kind} (${apiVersion}); it is stored without validation`]);
    return denied(uid, `unrecognized type ${gvk.kind} (${apiVersion}): meshd validates only ${istioKindList()}`);
  }
  const object = request.object;
  if (!object || typeof object !== 'object' || Array.isArray(object)) return denied(uid, `${gvk.kind}: request.object is missing or not an object`);
  const candidate = object as KubeObject;
  if (!candidate.metadata || typeof candidate.metadata !== 'object') return denied(uid, `${gvk.kind}: metadata is missing`);
  const problems = validators[kind](candidate);
  if (problems.length > 0) return denied(uid, `configuration is invalid: ${formatProblems(problems)}`);
  return allowed(uid, admissionWarnings(kind, candidate));
}

function istioKindList(): string {
  return (Object.keys(kinds) as KindName[]).filter((k) => kinds[k].apiVersions.some((v) => istioGroups.has(v.split('/')[0]!))).join(', ');
}
