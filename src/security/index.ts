// Mesh security: PeerAuthentication, AuthorizationPolicy and
// RequestAuthentication translated into the configuration istiod would send.
export * from './types.js';
export { TranslationError, stringMatcher, cidrRange, JwtAuthnFilterName } from './matchers.js';
export { rulePolicy, rbacPolicyName, policyMatchingNothing, conditionGenerator, type RbacAction } from './authzRule.js';
export * from './rbac.js';
export * from './selection.js';
export * from './peerAuthentication.js';
export * from './tls.js';
export * from './proxyless.js';
export * from './jwtAuthn.js';
export * from './validation.js';
export * from './objects.js';
export * from './workloadSecurity.js';
export * from './meshPolicies.js';
export * from './sidecarInbound.js';
