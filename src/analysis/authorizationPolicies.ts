// istioctl's AuthorizationPolicy analyzer: policies that apply to no
// workload in the mesh (IST0127) and source namespaces that do not exist
// (IST0101).
import type { KubeObject } from '../model/kube.js';
import { failClosedAnnotation } from '../model/kinds.js';
import { selectorText, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  rules?: Array<{ from?: Array<{ source?: { namespaces?: string[]; notNamespaces?: string[] } }> }>;
}

/** istioctl's namespace pattern: `*`, `*suffix`, `prefix*` or an exact (case-insensitive) name. */
function namespaceMatches(namespace: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return namespace.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return namespace.startsWith(pattern.slice(0, -1));
  return namespace.toLowerCase() === pattern.toLowerCase();
}

export function authorizationPolicies(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const namespaces = input.namespaces.map((n) => n.metadata.name);
  const inMesh = (pod: KubeObject): boolean => input.podInMesh(pod);
  const namespaceHasWorkload = new Map<string, boolean>();
  const hasWorkload = (ns: string): boolean => {
    let has = namespaceHasWorkload.get(ns);
    if (has === undefined) namespaceHasWorkload.set(ns, (has = input.hasPodMatching(undefined, ns, inMesh)));
    return has;
  };
  for (const stored of input.stored('AuthorizationPolicy')) {
    // A rejected policy without a valid version, stored for its deny-all stand-in: the broken policy is reported as IST0106.
    if (stored.object.metadata.annotations?.[failClosedAnnotation]) continue;
    const spec = (stored.object.spec ?? {}) as AuthorizationPolicySpec;
    const ns = stored.object.metadata.namespace ?? '';
    const resource = input.resourceOf(stored);
    const selector = spec.selector ? (spec.selector.matchLabels ?? {}) : undefined;
    // Only pods in the mesh (with a sidecar, or to be injected) count, in the whole mesh for root-namespace policies.
    const meshWide = ns === input.rootNamespace;
    const applies = selector === undefined ? meshWide || hasWorkload(ns) : input.hasPodMatching(selector, meshWide ? undefined : ns, inMesh);
    if (!applies) {
      const labels = selectorText(selector);
      out.push(
        message(
          'NoMatchingWorkloadsFound',
          resource,
          `No matching workloads for this resource with the following labels: ${labels}`,
          selector === undefined
            ? `namespace ${ns} has no workload in the mesh: the policy applies to nothing until one is deployed (or injected)`
            : `no workload in the mesh ${meshWide ? '' : `in namespace ${ns} `}carries ${labels || 'any labels'}: correct the selector or deploy the workload`,
        ),
      );
    }
    for (const rule of spec.rules ?? []) {
      for (const from of rule.from ?? []) {
        for (const pattern of [...(from.source?.namespaces ?? []), ...(from.source?.notNamespaces ?? [])]) {
          if (namespaces.some((n) => namespaceMatches(n, pattern))) continue;
          out.push(
            message(
              'ReferencedResourceNotFound',
              resource,
              `Referenced namespace not found: ${JSON.stringify(pattern)}`,
              `no namespace matches ${pattern}: correct the source namespace (a typo here silently matches nothing)`,
            ),
          );
        }
      }
    }
  }
  return out;
}
