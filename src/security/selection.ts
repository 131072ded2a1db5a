// Which security policies apply to a workload, as istiod selects them: those
// in the root namespace (mesh-wide) and in the workload's namespace whose
// selector labels all match the workload (no selector: every workload).
import type { SecurityPolicy, WorkloadSelector } from './types.js';

export interface WorkloadIdentity {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export function selectorMatches(selector: WorkloadSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  const wanted = selector?.matchLabels ?? {};
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

export function hasSelector(policy: SecurityPolicy<{ selector?: WorkloadSelector }>): boolean {
  return Object.keys(policy.spec.selector?.matchLabels ?? {}).length > 0;
}

/** Policies (AuthorizationPolicy, RequestAuthentication, PeerAuthentication) applying to the workload. */
export function policiesForWorkload<S extends { selector?: WorkloadSelector }>(
  policies: readonly SecurityPolicy<S>[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): SecurityPolicy<S>[] {
  return policies.filter((p) => (p.namespace === rootNamespace || p.namespace === workload.namespace) && selectorMatches(p.spec.selector, workload.labels));
}
