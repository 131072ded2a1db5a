// The Kubernetes source and the Kubernetes API helpers meshd serve wires up.
export { KubeSource, type KubeSourceOptions, type KindStatus } from './kubeSource.js';
export { KubeHttp, KubeApiError, collectionPath, objectPath } from './kubeHttp.js';
export { loadKubeConfig, runningInCluster } from './kubeConfig.js';
export { LeaseLeaderElector, defaultLeaseName, type LeaderElectorOptions } from './leaderElection.js';
export {
  reviewToken,
  serviceAccountOfUser,
  upsertConfigMap,
  getSecret,
  createSecret,
  rootCertConfigMapName,
  rootCertConfigMapKey,
  rootCertConfigMapLabels,
  caSecretName,
  type TokenReviewResult,
  type KubeSecret,
  type KubeConfigMap,
  type UpsertOutcome,
} from './kubeWrites.js';
export { findProxyPod, podKeyOfProxy, resolveProxyWorkload, podChangeAffectsProxy, type PodLookup, type ProxyWorkload } from './proxyPod.js';
export { parseMeshConfigMap, meshConfigMapName } from './meshConfig.js';
