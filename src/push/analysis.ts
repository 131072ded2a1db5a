// The pipeline's own check of routes to subsets no DestinationRule defines,
// resolved as istiod resolves DestinationRules (the cluster that would be
// missing, so requests get 503): logged once and counted in a gauge, after
// each push (MeshPipeline.onAnalysis), never before it. The
// messages of `meshctl analyze`, `/debug/analyze` and resource status come
// from src/analysis, which follows istioctl's analyzers.
import type { Destination } from '../model/istio.js';
import type { PushContext } from './pushContext.js';
import { resolveShortName } from './hosts.js';

export interface AnalysisMessage {
  readonly code: string;
  readonly level: 'Error' | 'Warning' | 'Info';
  /** `Kind namespace/name` of the object the message is about. */
  readonly resource: string;
  readonly message: string;
}

export interface MissingSubset extends AnalysisMessage {
  readonly virtualService: string;
  /** `namespace/name` of the DestinationRule for the host, when there is one. */
  readonly destinationRule?: string;
  readonly host: string;
  readonly subset: string;
}

/**
 * IST0101 ReferencedResourceNotFound for every VirtualService destination
 * naming a subset that no DestinationRule for its host defines. Under istiod
 * such a route names a cluster that does not exist, so requests get 503.
 */
export function analyzeMissingSubsets(context: PushContext): MissingSubset[] {
  const out: MissingSubset[] = [];
  const seen = new Set<string>();
  for (const vs of context.virtualServices) {
    const destinations: Destination[] = [];
    for (const http of vs.spec.http ?? []) {
      for (const r of http.route ?? []) destinations.push(r.destination);
      if (http.mirror) destinations.push(http.mirror);
      for (const m of http.mirrors ?? []) destinations.push(m.destination);
    }
    for (const r of [...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])]) for (const d of r.route ?? []) destinations.push(d.destination);
    for (const dest of destinations) {
      if (!dest?.subset) continue;
      const host = resolveShortName(dest.host, vs.namespace, context.options.domainSuffix);
      const dr = context.destinationRuleFor({ namespace: vs.namespace }, host);
      if (dr?.spec.subsets?.some((s) => s.name === dest.subset)) continue;
      const resource = `VirtualService ${vs.namespace}/${vs.name}`;
      const key = `${resource}|${host}|${dest.subset}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        code: 'IST0101',
        level: 'Error',
        resource,
        message: `Referenced host+subset in destinationrule not found: "${dest.host}+${dest.subset}"`,
        virtualService: `${vs.namespace}/${vs.name}`,
        ...(dr ? { destinationRule: `${dr.namespace}/${dr.name}` } : {}),
        host,
        subset: dest.subset,
      });
    }
  }
  return out;
}
