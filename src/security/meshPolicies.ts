// The security policies of a model snapshot, typed for translation. Pure:
// generators call it once per push context (and may memoise the result in
// the push context cache).
import type { ModelSnapshot } from '../model/meshModel.js';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec, SecurityPolicy } from './types.js';
import type { KubeObject } from '../model/kube.js';
import { authorizationPolicyFrom, securityPolicyFrom } from './objects.js';
import type { MeshSecurityPolicies } from './workloadSecurity.js';

function policiesOf<Spec>(
  snapshot: ModelSnapshot,
  kind: 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication',
  policyFrom: (object: KubeObject) => SecurityPolicy<Spec> = securityPolicyFrom<Spec>,
): SecurityPolicy<Spec>[] {
  const list = [...(snapshot.get(kind)?.values() ?? [])].map(({ object }) => policyFrom(object));
  return list.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function meshSecurityPolicies(snapshot: ModelSnapshot, rootNamespace: string): MeshSecurityPolicies {
  return {
    rootNamespace,
    peerAuthentications: policiesOf<PeerAuthenticationSpec>(snapshot, 'PeerAuthentication'),
    // A rejected AuthorizationPolicy without a valid version is stored marked: it translates to its fail-closed stand-in.
    authorizationPolicies: policiesOf<AuthorizationPolicySpec>(snapshot, 'AuthorizationPolicy', authorizationPolicyFrom),
    requestAuthentications: policiesOf<RequestAuthenticationSpec>(snapshot, 'RequestAuthentication'),
  };
}

/** Cache key under which generators memoise meshSecurityPolicies in a push context. */
export const MeshSecurityPoliciesCacheKey = 'security:policies';
