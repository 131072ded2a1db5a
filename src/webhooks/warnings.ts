// Admission warnings: objects that are valid but very likely not what their
// author meant. kubectl prints them (`Warning: ...`) and still applies.
import type { KindName } from '../model/kinds.js';
import type { KubeObject } from '../model/kube.js';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec } from '../security/types.js';

export function admissionWarnings(kind: KindName, object: KubeObject): string[] {
  switch (kind) {
    case 'AuthorizationPolicy':
      return authorizationPolicyWarnings(object.spec as AuthorizationPolicySpec | undefined);
    case 'PeerAuthentication':
      return peerAuthenticationWarnings(object);
    default:
      return [];
  }
}

function authorizationPolicyWarnings(spec: AuthorizationPolicySpec | undefined): string[] {
  const action = spec?.action ?? 'ALLOW';
  if (action === 'ALLOW' && (spec?.rules ?? []).length === 0) {
    return ['ALLOW policy with no rules: it matches no request, so every request to the workloads it selects is denied'];
  }
  return [];
}

function peerAuthenticationWarnings(object: KubeObject): string[] {
  const spec = object.spec as PeerAuthenticationSpec | undefined;
  if (spec?.mtls?.mode === 'DISABLE' && !spec.selector && object.metadata.namespace === 'istio-system') {
    return ['mesh-wide mTLS DISABLE: every workload accepts plaintext and loses peer identity for authorization'];
  }
  return [];
}
