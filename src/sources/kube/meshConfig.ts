// The parts of istiod's mesh configuration (ConfigMap `istio` in the system
// namespace, key `mesh`, a YAML MeshConfig) that shape what this source
// delivers. Everything else in MeshConfig is left to the model.
import type { KubeObject } from '../../model/kube.js';
import { meshConfigMapName, readMeshConfigDocument } from '../../model/meshConfig.js';
import { compileLabelSelector, type LabelMatcher } from './labelSelector.js';

export { meshConfigMapName };

export interface SourceMeshConfig {
  /** undefined when MeshConfig has no discoverySelectors: every namespace is discovered. */
  discoverySelectors?: LabelMatcher[];
}

export type MeshConfigResult = { ok: true; config: SourceMeshConfig } | { ok: false; error: string };

/** Reads the `mesh` key of the mesh ConfigMap; a missing key or empty document means defaults. */
export function parseMeshConfigMap(configMap: KubeObject): MeshConfigResult {
  const document = readMeshConfigDocument(configMap);
  if (!document.ok) return document;
  return parseDiscoverySelectors(document.value.discoverySelectors);
}

function parseDiscoverySelectors(value: unknown): MeshConfigResult {
  // istiod: no selectors (absent or empty list) selects every namespace.
  if (value === undefined || value === null) return { ok: true, config: {} };
  if (!Array.isArray(value)) return { ok: false, error: 'discoverySelectors: must be a list of label selectors' };
  if (value.length === 0) return { ok: true, config: {} };
  const matchers: LabelMatcher[] = [];
  for (const [index, selector] of value.entries()) {
    const compiled = compileLabelSelector(selector);
    if (!compiled.ok) return { ok: false, error: `discoverySelectors[${index}]: ${compiled.error}` };
    matchers.push(compiled.matches);
  }
  return { ok: true, config: { discoverySelectors: matchers } };
}
