// Which namespaces meshd discovers, following istiod's discoverySelectors
// semantics: no selectors means every namespace; otherwise a namespace is
// discovered when any selector matches its labels. Cluster-scoped objects are
// always discovered; a Namespace object counts as living in itself.
import type { LabelMatcher } from './labelSelector.js';

export interface SelectionChange {
  added: string[];
  removed: string[];
}

export class DiscoveryNamespaceFilter {
  private readonly namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  private selectors: LabelMatcher[] | undefined;
  private selected = new Set<string>();

  /** True when objects of `namespace` ('' for cluster-scoped) reach the model. */
  admits(namespace: string): boolean {
    if (namespace === '' || this.selectors === undefined) return true;
    return this.selected.has(namespace);
  }

  get selecting(): boolean {
    return this.selectors !== undefined;
  }

  setSelectors(selectors: LabelMatcher[] | undefined): SelectionChange {
    const before = this.admittedNamespaces();
    this.selectors = selectors;
    this.selected = new Set([...this.namespaceLabels].filter(([, labels]) => this.matches(labels)).map(([name]) => name));
    return difference(before, this.admittedNamespaces());
  }

  namespaceUpserted(name: string, labels: Readonly<Record<string, string>>): SelectionChange {
    const wasAdmitted = this.admits(name);
    this.namespaceLabels.set(name, labels);
    if (this.matches(labels)) this.selected.add(name);
    else this.selected.delete(name);
    const isAdmitted = this.admits(name);
    // With no selectors every namespace is admitted already; nothing changes.
    if (wasAdmitted === isAdmitted) return { added: [], removed: [] };
    return isAdmitted ? { added: [name], removed: [] } : { added: [], removed: [name] };
  }

  /** A deleted namespace's objects are deleted by their own watches; no change to announce. */
  namespaceDeleted(name: string): void {
    this.namespaceLabels.delete(name);
    this.selected.delete(name);
  }

  private matches(labels: Readonly<Record<string, string>>): boolean {
    return this.selectors === undefined || this.selectors.some((matches) => matches(labels));
  }

  /** Known namespaces admitted now (all of them when not selecting). */
  private admittedNamespaces(): Set<string> {
    return this.selectors === undefined ? new Set(this.namespaceLabels.keys()) : new Set(this.selected);
  }
}

function difference(before: Set<string>, after: Set<string>): SelectionChange {
  return {
    added: [...after].filter((name) => !before.has(name)),
    removed: [...before].filter((name) => !after.has(name)),
  };
}
