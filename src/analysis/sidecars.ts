// istioctl's Sidecar analyzers: workload selectors matching no pod (IST0101),
// several Sidecars selecting one pod (IST0110) or none selecting (IST0111);
// plus meshd's own egress host check (MESHD0002).
import type { SidecarSpec } from '../model/istio.js';
import { hostMatches } from '../push/hosts.js';
import type { ConfigEntry } from '../push/pushContext.js';
import { goList, selectorText, type AnalysisInput } from './input.js';
import { message, type AnalysisMessage } from './messages.js';

type Sidecar = ConfigEntry<SidecarSpec>;
const nameOf = (s: Sidecar): string => `${s.namespace}/${s.name}`;

/** IST0101 for a workloadSelector matching no pod of the Sidecar's namespace; IST0110 per pod several Sidecars select. */
export function sidecarSelectors(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const sidecarsByPod = new Map<string, { namespace: string; pod: string; sidecars: Sidecar[] }>();
  for (const sc of input.context.sidecars) {
    const labels = sc.spec.workloadSelector?.labels;
    if (!labels || Object.keys(labels).length === 0) continue;
    const pods = input.podsMatching(labels, sc.namespace);
    if (pods.length === 0) {
      out.push(
        message(
          'ReferencedResourceNotFound',
          input.resource('Sidecar', sc.namespace, sc.name),
          `Referenced selector not found: ${JSON.stringify(selectorText(labels))}`,
          `no pod in namespace ${sc.namespace} carries ${selectorText(labels)}: correct the workloadSelector (a Sidecar selects pods of its own namespace only)`,
        ),
      );
      continue;
    }
    for (const pod of pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const entry = sidecarsByPod.get(key) ?? { namespace: pod.metadata.namespace ?? '', pod: pod.metadata.name, sidecars: [] };
      entry.sidecars.push(sc);
      sidecarsByPod.set(key, entry);
    }
  }
  for (const { namespace, pod, sidecars } of sidecarsByPod.values()) {
    if (sidecars.length < 2) continue;
    for (const sc of sidecars) {
      out.push(
        message(
          'ConflictingSidecarWorkloadSelectors',
          input.resource('Sidecar', sc.namespace, sc.name),
          `The Sidecars ${goList(sidecars.map(nameOf))} in namespace ${JSON.stringify(namespace)} select the same workload pod ${JSON.stringify(pod)}, which can lead to undefined behavior.`,
          `make the workloadSelectors of ${sidecars.map(nameOf).join(', ')} disjoint; the pod gets only one of them`,
        ),
      );
    }
  }
  return out;
}

/** IST0111: more than one Sidecar without workloadSelector in a namespace. */
export function sidecarsWithoutSelector(input: AnalysisInput): AnalysisMessage[] {
  const byNamespace = new Map<string, Sidecar[]>();
  for (const sc of input.context.sidecars) {
    if (sc.spec.workloadSelector !== undefined) continue;
    const list = byNamespace.get(sc.namespace);
    if (list) list.push(sc);
    else byNamespace.set(sc.namespace, [sc]);
  }
  const out: AnalysisMessage[] = [];
  for (const [namespace, sidecars] of byNamespace) {
    if (sidecars.length < 2) continue;
    for (const sc of sidecars) {
      out.push(
        message(
          'MultipleSidecarsWithoutWorkloadSelectors',
          input.resource('Sidecar', sc.namespace, sc.name),
          `The Sidecars ${goList(sidecars.map(nameOf))} in namespace ${JSON.stringify(namespace)} have no workload selector, which can lead to undefined behavior.`,
          `keep one namespace-wide Sidecar in ${namespace}; give the others a workloadSelector`,
        ),
      );
    }
  }
  return out;
}

/** MESHD0002 (meshd's own; istioctl does not check it): a Sidecar egress host `ns/host` that matches no service. */
export function sidecarEgressHosts(input: AnalysisInput): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const sc of input.context.sidecars) {
    for (const listener of sc.spec.egress ?? []) {
      for (const entry of listener.hosts ?? []) {
        const slash = entry.indexOf('/');
        if (slash < 0) continue;
        const nsPart = entry.slice(0, slash);
        const hostPart = entry.slice(slash + 1);
        if (nsPart === '~' || hostPart.startsWith('*')) continue;
        const namespace = nsPart === '.' ? sc.namespace : nsPart;
        if (input.context.services.some((s) => (namespace === '*' || s.namespace === namespace) && hostMatches(hostPart, s.hostname))) continue;
        out.push(
          message(
            'SidecarEgressHostNotFound',
            input.resource('Sidecar', sc.namespace, sc.name),
            `Sidecar egress host ${JSON.stringify(entry)} matches no service.`,
            `no service ${hostPart} in ${namespace === '*' ? 'any namespace' : `namespace ${namespace}`}: correct the host (FQDN, e.g. NAME.NAMESPACE.svc.cluster.local) or remove it`,
          ),
        );
      }
    }
  }
  return out;
}
