// The parts of istiod's mesh configuration (ConfigMap `istio` in the system
// namespace, key `mesh`, a YAML MeshConfig) that shape what this source
// delivers. Everything else in MeshConfig is left to the model.
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../model/kube.js';
import { compileLabelSelector, type LabelMatcher } from './labelSelector.js';

export const meshConfigMapName = 'istio';
export const meshConfigKey = 'mesh';

export interface SourceMeshConfig {
  /** undefined when MeshConfig has no discoverySelectors: every namespace is discovered. */
  discoverySelectors?: LabelMatcher[];
}

export type MeshConfigResult = { ok: true; config: SourceMeshConfig } | { ok: false; error: string };

/** Reads the `mesh` key of the mesh ConfigMap; a missing key or empty document means defaults. */
export function parseMeshConfigMap(configMap: KubeObject): MeshConfigResult {
  const data = configMap.data;
  const text = data && typeof data === 'object' ? (data as Record<string, unknown>)[meshConfigKey] : undefined;
  if (text === undefined || text === null || text === '') return { ok: true, config: {} };
  if (typeof text !== 'string') return { ok: false, error: `data.${meshConfigKey}: must be a string holding YAML` };
  let mesh: unknown;
  try {
    mesh = parseYaml(text);
  } catch (error) {
    return { ok: false, error: `data.${meshConfigKey}: invalid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  if (mesh === null || mesh === undefined) return { ok: true, config: {} };
  if (typeof mesh !== 'object' || Array.isArray(mesh)) return { ok: false, error: `data.${meshConfigKey}: must be a YAML mapping (MeshConfig)` };
  return parseDiscoverySelectors((mesh as Record<string, unknown>).discoverySelectors);
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
