// EnvoyFilter patches on clusters, as istiod applies them: REMOVE and MERGE
// on the clusters a match selects (by name, or by the service, subset and
// port of an `outbound|PORT|SUBSET|HOST` or `inbound|PORT||` name), then ADD.
// Clusters no patch touches are returned as they were.
import type { EnvoyFilterPatch, ProxyEnvoyFilters } from '../../../push/envoyFilters.js';
import { patchesFor } from '../../../push/envoyFilters.js';
import { lookupType } from '../../../proto/envoyRoot.js';
import { protoMerge } from './envoyFilterMerge.js';
import { contextMatches, valueOf, type PatchContext } from './envoyFilterContext.js';
import type { Json } from './json.js';

function clusterMatch(cluster: Json, patch: EnvoyFilterPatch): boolean {
  const match = patch.match.cluster;
  if (!match) return true;
  const name = typeof cluster.name === 'string' ? cluster.name : '';
  if (match.name) return match.name === name;
  const [, port = '', subset = '', host = ''] = name.split('|');
  if (match.service && match.service !== host) return false;
  if (match.subset && match.subset !== subset) return false;
  if (match.portNumber && match.portNumber !== Number(port)) return false;
  return true;
}

/** Whether a proxy has any cluster patch: its CDS results are then its own (keyed by its filters). */
export function hasClusterPatches(filters: ProxyEnvoyFilters): boolean {
  return patchesFor(filters, 'CLUSTER').length > 0;
}

/**
 * Applies a proxy's CLUSTER patches: `contextOf` says whether a cluster is
 * inbound or outbound for a sidecar (GATEWAY for routers); added clusters go
 * to `addContext` (SIDECAR_OUTBOUND for sidecars). Records applied patches.
 */
export function patchClusters(
  filters: ProxyEnvoyFilters,
  clusters: readonly Json[],
  contextOf: (cluster: Json) => PatchContext,
  addContext: PatchContext,
  applied: Set<EnvoyFilterPatch>,
): Json[] {
  const patches = patchesFor(filters, 'CLUSTER');
  if (patches.length === 0) return [...clusters];
  const clusterType = lookupType('envoy.config.cluster.v3.Cluster');
  const out: Json[] = [];
  for (const cluster of clusters) {
    let current: Json | undefined = cluster;
    const context = contextOf(cluster);
    for (const patch of patches) {
      if (!current || !contextMatches(context, patch) || !clusterMatch(current, patch)) continue;
      if (patch.operation === 'REMOVE') current = undefined;
      else if (patch.operation === 'MERGE') current = protoMerge(clusterType, current, valueOf(patch));
      else continue;
      applied.add(patch);
    }
    if (current) out.push(current);
  }
  for (const patch of patches) {
    if (patch.operation !== 'ADD' || !contextMatches(addContext, patch)) continue;
    out.push(valueOf(patch));
    applied.add(patch);
  }
  return out;
}
