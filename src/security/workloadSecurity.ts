// Everything security adds to one workload's inbound side, from every
// security policy in the mesh: its effective mTLS modes, the HTTP filters
// (jwt_authn then RBAC) for HTTP chains and the network RBAC filters for
// TCP chains.
import type { AuthorizationPolicy, PeerAuthentication, RequestAuthentication } from './types.js';
import { DefaultRootNamespace } from './types.js';
import { policiesForWorkload, type WorkloadIdentity } from './selection.js';
import { composePeerAuthentication, type MergedPeerAuthentication } from './peerAuthentication.js';
import { buildRbacFilters, type SkippedRule } from './rbac.js';
import { buildJwtAuthnFilter, type JwksUri } from './jwtAuthn.js';
import type { Filter, HttpFilter } from '../proto/envoyTypes.generated.js';

export interface MeshSecurityPolicies {
  readonly peerAuthentications: readonly PeerAuthentication[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly requestAuthentications: readonly RequestAuthentication[];
  /** Defaults to istio-system. */
  readonly rootNamespace?: string;
}

export interface WorkloadSecurity {
  readonly mtls: MergedPeerAuthentication;
  /** HTTP filters to insert before the router, in order. */
  readonly httpFilters: HttpFilter[];
  /** Network filters to insert before tcp_proxy, in order. */
  readonly networkFilters: Filter[];
  readonly jwksUris: JwksUri[];
  readonly skipped: SkippedRule[];
}

export function workloadSecurity(policies: MeshSecurityPolicies, workload: WorkloadIdentity): WorkloadSecurity {
  const root = policies.rootNamespace ?? DefaultRootNamespace;
  const mtls = composePeerAuthentication(root, policiesForWorkload(policies.peerAuthentications, workload, root));
  const authz = policiesForWorkload(policies.authorizationPolicies, workload, root);
  const jwt = buildJwtAuthnFilter(policiesForWorkload(policies.requestAuthentications, workload, root));
  const http = buildRbacFilters(authz, { forTCP: false });
  const tcp = buildRbacFilters(authz, { forTCP: true });
  return {
    mtls,
    httpFilters: [...(jwt.filter ? [jwt.filter] : []), ...http.filters],
    networkFilters: tcp.filters,
    jwksUris: jwt.jwksUris,
    skipped: [...jwt.skipped, ...http.skipped, ...tcp.skipped],
  };
}
