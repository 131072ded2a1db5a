// The injection settings in force, from the two ConfigMaps istiod reads in its
// namespace: `istio` (mesh config: defaultConfig, enablePrometheusMerge) and
// `istio-sidecar-injector` (values). Parsed once per version of either.
import type { KubeObject } from '../../model/kube.js';
import { readMeshConfigDocument } from '../../model/meshConfig.js';
import { injectionValuesFrom, meshProxyConfig } from './injectionValues.js';
import { injectorConfigFrom } from './injectorConfig.js';
import type { InjectionSettings } from './sidecarInjection.js';

export type SettingsResult = { ok: true; settings: InjectionSettings } | { ok: false; error: string };

export interface MeshdIdentity {
  clusterId: string;
  trustDomain: string;
  /** The API server's `MAJOR.MINOR`, once known (Kubernetes mode). */
  kubernetesVersion?: () => string | undefined;
}

export function injectionSettingsFrom(meshConfigMap: KubeObject | undefined, valuesConfigMap: KubeObject | undefined, identity: MeshdIdentity): SettingsResult {
  const values = injectionValuesFrom(valuesConfigMap);
  if (!values.ok) return values;
  const injector = injectorConfigFrom(valuesConfigMap);
  if (!injector.ok) return injector;
  const proxyConfig = meshProxyConfig(meshConfigMap, values.value.global.istioNamespace);
  if (!proxyConfig.ok) return proxyConfig;
  const mesh = meshConfigMap ? readMeshConfigDocument(meshConfigMap) : undefined;
  const merge = mesh?.ok ? mesh.value.enablePrometheusMerge : undefined;
  const trustDomain = mesh?.ok && typeof mesh.value.trustDomain === 'string' && mesh.value.trustDomain ? mesh.value.trustDomain : identity.trustDomain;
  return {
    ok: true,
    settings: {
      values: values.value,
      injector: injector.value,
      proxyConfig: proxyConfig.value,
      clusterId: identity.clusterId,
      trustDomain,
      revision: 'default',
      prometheusMerge: merge === undefined ? true : merge === true,
      kubernetesVersion: identity.kubernetesVersion?.(),
    },
  };
}

/** Re-parses only when either ConfigMap object (the model replaces objects on update) or the server version changed. */
export function cachedSettings(read: () => [KubeObject | undefined, KubeObject | undefined], identity: MeshdIdentity): () => SettingsResult {
  let last: { mesh: KubeObject | undefined; values: KubeObject | undefined; version: string | undefined; result: SettingsResult } | undefined;
  return () => {
    const [mesh, values] = read();
    const version = identity.kubernetesVersion?.();
    if (!last || last.mesh !== mesh || last.values !== values || last.version !== version) {
      last = { mesh, values, version, result: injectionSettingsFrom(mesh, values, identity) };
    }
    return last.result;
  };
}
