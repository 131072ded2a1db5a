// The embedded CA's public surface, wired into `meshd serve` by src/meshd.ts.
export { CertificateAuthority, defaultAuthorityPolicy, type AuthorityPolicy, type IssueResult } from './authority.js';
export { caTokenAudience, loadJwtVerificationKey, type Caller, type ReviewToken, type TokenReviewResult } from './authn.js';
export { loadOrCreateCaDirectory, type CaDirectoryResult } from './caDirectory.js';
export {
  caFromSecretData,
  caFromSecrets,
  istioCaSecretName,
  istioCaSecretType,
  newSelfSignedCaSecretData,
  pluggedCaSecretName,
  rootCertConfigMapData,
  rootCertConfigMapKey,
  rootCertConfigMapName,
  type SecretData,
} from './caSecrets.js';
export { spiffeId, parseSpiffeId } from './identity.js';
export { jwtKeysFromJwks, jwtKeysFromKey, type JwtKeys } from './jwt.js';
export { CaFile, CaMaterialError, caMaterialFromPem, createSelfSignedCaPem, type CaMaterial } from './material.js';
export { caMetrics, type CaMetrics } from './metrics.js';
export { CertificateServiceClient, certificateServicePath } from './protocol.js';
export { addCertificateService, defaultMaxRequestBytes, recordCaExpiry, type CertificateServiceDeps } from './service.js';
export { ServingCertificate, istiodServiceDnsName, type ServingCertificateOptions } from './servingCertificate.js';
