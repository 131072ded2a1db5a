// istiod's mesh configuration: ConfigMap `istio` in the system namespace,
// key `mesh`, a YAML MeshConfig. The model reads the fields generation needs;
// sources read their own (discoverySelectors) from the same document.
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from './kube.js';
import type { OutboundTrafficPolicyMode } from './istio.js';
import type { ModelSnapshot } from './meshModel.js';
import { checkSchema, obj, oneOf } from './validation/schema.js';

export const meshConfigMapName = 'istio';
export const meshConfigKey = 'mesh';

/** The MeshConfig fields meshd translates, with istiod's defaults filled in. */
export interface MeshConfig {
  readonly outboundTrafficPolicy: { readonly mode: OutboundTrafficPolicyMode };
}

export const defaultMeshConfig: MeshConfig = { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } };

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The `mesh` document as a mapping; a missing key or an empty document is an empty mapping (all defaults). */
export function readMeshConfigDocument(configMap: KubeObject): Parsed<Record<string, unknown>> {
  const data = configMap.data;
  const text = data && typeof data === 'object' ? (data as Record<string, unknown>)[meshConfigKey] : undefined;
  if (text === undefined || text === null || text === '') return { ok: true, value: {} };
  if (typeof text !== 'string') return { ok: false, error: `data.${meshConfigKey}: must be a string holding YAML` };
  let mesh: unknown;
  try {
    mesh = parseYaml(text);
  } catch (error) {
    return { ok: false, error: `data.${meshConfigKey}: invalid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  if (mesh === null || mesh === undefined) return { ok: true, value: {} };
  if (typeof mesh !== 'object' || Array.isArray(mesh)) return { ok: false, error: `data.${meshConfigKey}: must be a YAML mapping (MeshConfig)` };
  return { ok: true, value: mesh as Record<string, unknown> };
}

const outboundTrafficPolicySchema = obj({ mode: oneOf('REGISTRY_ONLY', 'ALLOW_ANY') });

export function parseMeshConfig(configMap: KubeObject): Parsed<MeshConfig> {
  const document = readMeshConfigDocument(configMap);
  if (!document.ok) return document;
  const policy = document.value.outboundTrafficPolicy as { mode?: OutboundTrafficPolicyMode } | undefined;
  const problems: string[] = [];
  checkSchema(policy, outboundTrafficPolicySchema, 'outboundTrafficPolicy', problems);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  // MeshConfig fields replace the defaults whole (istiod's ApplyMeshConfig): a policy without mode is the proto's zero value.
  return { ok: true, value: policy ? { outboundTrafficPolicy: { mode: policy.mode ?? 'REGISTRY_ONLY' } } : defaultMeshConfig };
}

/** Validation of ConfigMaps: the mesh configuration must parse; every other ConfigMap is accepted as is. */
export function meshConfigMapProblems(configMap: KubeObject): string[] {
  if (configMap.metadata.name !== meshConfigMapName) return [];
  const parsed = parseMeshConfig(configMap);
  return parsed.ok ? [] : [parsed.error];
}

/** The mesh configuration in force: the ConfigMap in `systemNamespace`, or istiod's defaults without one. */
export function meshConfigOf(snapshot: ModelSnapshot, systemNamespace: string): MeshConfig {
  const stored = snapshot.get('ConfigMap')?.get(`${systemNamespace}/${meshConfigMapName}`);
  if (!stored) return defaultMeshConfig;
  const parsed = parseMeshConfig(stored.object);
  // Invalid versions never reach the model; defaults are only a guard.
  return parsed.ok ? parsed.value : defaultMeshConfig;
}
