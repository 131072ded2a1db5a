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
import type { DestinationRuleSpec } from '../model/istio.js';
import { hostMatches, isExportedTo, labelsMatch } from './hosts.js';
import type { ConfigEntry } from './pushContext.js';

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

  constructor(rules: readonly DestinationRuleEntry[], private readonly rootNamespace: string) {
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
    }
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
    const atHost = mostSpecific(this.localTo(viewer.namespace, true), hostname);
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
    const exportedFrom = (ns: string | undefined): DestinationRuleEntry[] =>
      ns === undefined ? [] : (this.byNamespace.get(ns) ?? []).filter((dr) => !hasSelector(dr) && isExportedTo(dr.spec.exportTo, dr.namespace, namespace));
    const steps = [() => this.localTo(namespace, false), () => exportedFrom(serviceNamespace), () => exportedFrom(this.rootNamespace)];
    for (const step of steps) {
      const atHost = mostSpecific(step(), hostname);
      if (atHost.length > 0) return consolidate(atHost);
    }
    return undefined;
  }

  /** The rules a namespace's own proxies look at first. */
  private localTo(namespace: string, withSelectors: boolean): DestinationRuleEntry[] {
    const visible = (dr: DestinationRuleEntry): boolean =>
      namespace === this.rootNamespace ? privateTo(dr, namespace) : isExportedTo(dr.spec.exportTo, dr.namespace, namespace);
    return (this.byNamespace.get(namespace) ?? []).filter((dr) => (hasSelector(dr) ? withSelectors : visible(dr)));
  }
}

/** The rules for the most specific host matching `hostname`: the exact host, else the longest matching wildcard. */
function mostSpecific(rules: readonly DestinationRuleEntry[], hostname: string): DestinationRuleEntry[] {
  const exact = rules.filter((dr) => dr.hosts[0] === hostname);
  if (exact.length > 0) return exact;
  let best: string | undefined;
  for (const dr of rules) {
    const host = dr.hosts[0]!;
    if (host.includes('*') && hostMatches(host, hostname) && (best === undefined || host.length > best.length)) best = host;
  }
  return best === undefined ? [] : rules.filter((dr) => dr.hosts[0] === best);
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
