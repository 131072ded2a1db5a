// Istio security specs (security.istio.io v1/v1beta1) as they appear in YAML,
// camelCase. Field names follow istio/api security/v1beta1.

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface Source {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
}

export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from?: { source?: Source }[];
  to?: { operation?: Operation }[];
  when?: Condition[];
}

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  rules?: AuthorizationRule[];
  action?: AuthorizationAction;
  provider?: { name?: string };
}

export type MutualTlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MutualTlsMode };
  portLevelMtls?: Record<string, { mode?: MutualTlsMode }>;
}

export interface JwtHeader {
  name: string;
  prefix?: string;
}

export interface JwtRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: JwtHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: { header: string; claim: string }[];
  timeout?: string;
}

export interface RequestAuthenticationSpec {
  selector?: WorkloadSelector;
  jwtRules?: JwtRule[];
}

/** An accepted security object, reduced to what translation reads. */
export interface SecurityPolicy<Spec> {
  readonly name: string;
  readonly namespace: string;
  readonly spec: Spec;
  /** RFC 3339; istiod picks the oldest of competing PeerAuthentications. */
  readonly creationTimestamp?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type AuthorizationPolicy = SecurityPolicy<AuthorizationPolicySpec>;
export type PeerAuthentication = SecurityPolicy<PeerAuthenticationSpec>;
export type RequestAuthentication = SecurityPolicy<RequestAuthenticationSpec>;

/** istiod's default root namespace: mesh-wide policies live here. */
export const DefaultRootNamespace = 'istio-system';
