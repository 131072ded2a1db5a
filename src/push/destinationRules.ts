// DestinationRule lookup as istiod resolves it for a proxy. A rule with a
// workloadSelector applies only to the outbound traffic of the workloads it
// selects in its own namespace, and for them takes precedence. Otherwise the
// proxy's namespace, then the service's namespace, then the root namespace
// decide, the most specific host winning within a namespace. Rules for the
// same host in one namespace merge: the first (oldest) keeps its metadata and
// top-level policy, later ones add subsets with new names and a top-level
// policy only when the first has none.
// One deliberate difference: a workload no selector rule picks is served as
// if the selector rules did not exist, where istiod gives it no rule at all
// when its namespace holds only selector rules for the host (istio/istio
// issues 52691, 57719).
import type { DestinationRuleSpec, LoadBalancerSettings } from '../model/istio.js';
import { hostMatches, isExportedTo, labelsMatch } from './hosts.js';
import type { ConfigEntry } from './configEntry.js';

export type DestinationRuleEntry = ConfigEntry<DestinationRuleSpec>;

/** A DestinationRule as it applies: one rule, or several merged under the first one's name. */
export interface EffectiveDestinationRule extends DestinationRuleEntry {
  /** `namespace/name` of every rule merged into it, the first one first. */
  readonly from: readonly string[];
}

/** Where a lookup is made from: a namespace and, for a workload, the selector DestinationRules that pick it. */
export interface DestinationRuleViewer {
  readonly namespace: string;
  /** See DestinationRuleIndex.selecting; none for a lookup that is not a workload's. */
  readonly selectedDestinationRules?: readonly DestinationRuleEntry[];
}

export const destinationRuleKey = (dr: DestinationRuleEntry): string => `${dr.namespace}/${dr.name}`;

/** Every load balancer setting of a DestinationRule: top level, port level, subsets and their port levels. */
export function loadBalancerSettings(spec: DestinationRuleSpec | undefined): LoadBalancerSettings[] {
  const policies = [spec?.trafficPolicy, ...(spec?.subsets ?? []).map((s) => s.trafficPolicy)];
  return policies
    .flatMap((p) => [p?.loadBalancer, ...(p?.portLevelSettings ?? []).map((pl) => pl.loadBalancer)])
    .filter((lb): lb is LoadBalancerSettings => lb !== undefined);
}

const hasSelector = (dr: DestinationRuleEntry): boolean => dr.spec.workloadSelector !== undefined;

function sameSelector(a: DestinationRuleEntry, b: DestinationRuleEntry): boolean {
  const la = a.spec.workloadSelector?.matchLabels ?? {};
  const lb = b.spec.workloadSelector?.matchLabels ?? {};
  return Object.keys(la).length === Object.keys(lb).length && labelsMatch(la, lb);
}

/** A private rule of the root namespace (exported only to itself): the only kind that binds the root namespace's own proxies first. */
function privateTo(dr: DestinationRuleEntry, namespace: string): boolean {
  const exportTo = dr.spec.exportTo ?? [];
  return exportTo.length === 1 && (exportTo[0] === '.' || exportTo[0] === namespace);
}

export class DestinationRuleIndex {
  /** Rules per namespace, selector rules first, each group oldest first (istiod's merge order). */
  private readonly byNamespace = new Map<string, DestinationRuleEntry[]>();
  /** The selector rules alone: every proxy's scope looks them up. */
  private readonly selectorRules = new Map<string, DestinationRuleEntry[]>();
  /** Per namespace, rules by exact host and the wildcard ones, in byNamespace order: lookups run per host of every scope. */
  private readonly byHost = new Map<string, { exact: Map<string, DestinationRuleEntry[]>; wildcards: DestinationRuleEntry[] }>();

  constructor(
    rules: readonly DestinationRuleEntry[],
    private readonly rootNamespace: string,
  ) {
    for (const dr of rules) {
      const list = this.byNamespace.get(dr.namespace);
      if (list) list.push(dr);
      else this.byNamespace.set(dr.namespace, [dr]);
    }
    // Array.prototype.sort is stable: age order survives within each group.
    for (const [namespace, list] of this.byNamespace) {
      list.sort((a, b) => Number(hasSelector(b)) - Number(hasSelector(a)));
      const selectors = list.filter(hasSelector);
      if (selectors.length > 0) this.selectorRules.set(namespace, selectors);
      const hosts = { exact: new Map<string, DestinationRuleEntry[]>(), wildcards: [] as DestinationRuleEntry[] };
      for (const dr of list) {
        const host = dr.hosts[0]!;
        if (host.includes('*')) hosts.wildcards.push(dr);
        else {
          const atHost = hosts.exact.get(host);
          if (atHost) atHost.push(dr);
          else hosts.exact.set(host, [dr]);
        }
      }
      this.byHost.set(namespace, hosts);
    }
  }

  /**
   * The rules of `namespace` that pass `visible`, for the most specific host
   * matching `hostname`: the exact host, else the longest matching wildcard.
   */
  private atMostSpecificHost(namespace: string | undefined, hostname: string, visible: (dr: DestinationRuleEntry) => boolean): DestinationRuleEntry[] {
    const hosts = namespace === undefined ? undefined : this.byHost.get(namespace);
    if (!hosts) return [];
    const exact = (hosts.exact.get(hostname) ?? []).filter(visible);
    if (exact.length > 0) return exact;
    let best: string | undefined;
    for (const dr of hosts.wildcards) {
      const host = dr.hosts[0]!;
      if (visible(dr) && hostMatches(host, hostname) && (best === undefined || host.length > best.length)) best = host;
    }
    return best === undefined ? [] : hosts.wildcards.filter((dr) => dr.hosts[0] === best && visible(dr));
  }

  /** The selector rules of `namespace` whose matchLabels the workload carries, in precedence order. */
  selecting(namespace: string, labels: Readonly<Record<string, string>>): DestinationRuleEntry[] {
    const rules = this.selectorRules.get(namespace);
    return rules ? rules.filter((dr) => labelsMatch(dr.spec.workloadSelector!.matchLabels ?? {}, labels)) : [];
  }

  /** The rule for `hostname` as seen by the viewer, or undefined. */
  lookup(viewer: DestinationRuleViewer, hostname: string, serviceNamespace: string | undefined): EffectiveDestinationRule | undefined {
    return this.selectedRule(viewer, hostname) ?? this.sharedRule(viewer.namespace, hostname, serviceNamespace);
  }

  /**
   * The first selector rule picking the workload among its namespace's rules
   * for the most specific matching host, merged with the same-selector and
   * selector-less rules for that host.
   */
  private selectedRule(viewer: DestinationRuleViewer, hostname: string): EffectiveDestinationRule | undefined {
    const selected = viewer.selectedDestinationRules ?? [];
    if (selected.length === 0) return undefined;
    const atHost = this.atMostSpecificHost(viewer.namespace, hostname, this.localVisibility(viewer.namespace, true));
    const first = atHost.find((dr) => selected.includes(dr));
    if (!first) return undefined;
    const sameSelectorRules = atHost.filter((dr) => dr !== first && hasSelector(dr) && sameSelector(dr, first));
    return consolidate([first, ...sameSelectorRules, ...atHost.filter((dr) => !hasSelector(dr))]);
  }

  /**
   * istiod's order for rules without selector: the proxy's namespace (for a
   * root-namespace proxy only the root's private rules), the service's
   * namespace, the root namespace; in each, what is exported to the proxy.
   */
  private sharedRule(namespace: string, hostname: string, serviceNamespace: string | undefined): EffectiveDestinationRule | undefined {
    const exported = (dr: DestinationRuleEntry): boolean => !hasSelector(dr) && isExportedTo(dr.spec.exportTo, dr.namespace, namespace);
    const steps: [string | undefined, (dr: DestinationRuleEntry) => boolean][] = [
      [namespace, this.localVisibility(namespace, false)],
      [serviceNamespace, exported],
      [this.rootNamespace, exported],
    ];
    for (const [ns, visible] of steps) {
      const atHost = this.atMostSpecificHost(ns, hostname, visible);
      if (atHost.length > 0) return consolidate(atHost);
    }
    return undefined;
  }

  /** Which rules of its own namespace a namespace's proxies look at first. */
  private localVisibility(namespace: string, withSelectors: boolean): (dr: DestinationRuleEntry) => boolean {
    const visible = (dr: DestinationRuleEntry): boolean =>
      namespace === this.rootNamespace ? privateTo(dr, namespace) : isExportedTo(dr.spec.exportTo, dr.namespace, namespace);
    return (dr) => (hasSelector(dr) ? withSelectors : visible(dr));
  }
}

/** istiod's merge of rules for one host: subsets added by new name, the top-level policy of the first that has one. */
function consolidate(rules: readonly DestinationRuleEntry[]): EffectiveDestinationRule {
  const [first, ...rest] = rules as [DestinationRuleEntry, ...DestinationRuleEntry[]];
  let spec = first.spec;
  for (const next of rest) {
    const names = new Set((spec.subsets ?? []).map((s) => s.name));
    const added = (next.spec.subsets ?? []).filter((s) => !names.has(s.name));
    const trafficPolicy = spec.trafficPolicy ?? next.spec.trafficPolicy;
    spec = {
      ...spec,
      ...(added.length > 0 ? { subsets: [...(spec.subsets ?? []), ...added] } : {}),
      ...(trafficPolicy ? { trafficPolicy } : {}),
    };
  }
  return { ...first, spec, from: rules.map(destinationRuleKey) };
}
