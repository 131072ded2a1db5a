// Stored Kubernetes objects → the typed policies translation reads.
import { failClosedAnnotation } from '../model/kinds.js';
import type { KubeObject } from '../model/kube.js';
import type { AuthorizationPolicy, AuthorizationPolicySpec, SecurityPolicy } from './types.js';

export function securityPolicyFrom<Spec>(object: KubeObject): SecurityPolicy<Spec> {
  const m = object.metadata;
  return {
    name: m.name,
    namespace: m.namespace ?? '',
    spec: (object.spec ?? {}) as Spec,
    ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

/**
 * What to enforce for an AuthorizationPolicy that was rejected and has no
 * earlier valid version (the model stores it marked with failClosedAnnotation):
 * a DENY of everything for the workloads it would have selected (the whole
 * namespace when its selector is unusable), so a broken policy never widens
 * access.
 */
export function failClosedAuthorizationPolicy(object: KubeObject): AuthorizationPolicy {
  return { ...securityPolicyFrom<AuthorizationPolicySpec>(object), spec: failClosedAuthorizationSpec(object) };
}

/** The DENY-everything spec standing in for a broken AuthorizationPolicy (see failClosedAuthorizationPolicy). */
export function failClosedAuthorizationSpec(object: KubeObject): AuthorizationPolicySpec {
  const raw = (object.spec ?? {}) as Partial<AuthorizationPolicySpec>;
  const labels = raw.selector?.matchLabels;
  const usable = labels !== null && typeof labels === 'object' && Object.keys(labels).length > 0 && Object.values(labels).every((v) => typeof v === 'string');
  return { action: 'DENY', rules: [{}], ...(usable ? { selector: { matchLabels: labels } } : {}) };
}

/** The policy to enforce for a stored AuthorizationPolicy: as written, or the fail-closed stand-in for a rejected one. */
export function authorizationPolicyFrom(object: KubeObject): AuthorizationPolicy {
  return object.metadata.annotations?.[failClosedAnnotation] ? failClosedAuthorizationPolicy(object) : securityPolicyFrom<AuthorizationPolicySpec>(object);
}
