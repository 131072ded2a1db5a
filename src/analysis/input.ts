// What every analyzer reads: the push context plus indexes (pods by label,
// kept across contexts while the pods stay the same; namespaces; services by
// exportTo scope), so no analyzer scans every pod for every object it checks.
import type { KubeObject } from '../model/kube.js';
import type { KindName } from '../model/kinds.js';
import type { ServiceEntrySpec } from '../model/istio.js';
import type { StoredObject } from '../model/meshModel.js';
import { labelsMatch } from '../push/hosts.js';
import type { PushContext } from '../push/pushContext.js';
import type { AnalysisResource } from './messages.js';
import { podIndexOf, type Labels, type PodIndex } from './podIndex.js';

export type { Labels };

/** A service as istioctl's host lookups see it: a Kubernetes Service or one ServiceEntry host. */
export interface AnalysisHost {
  readonly host: string;
  readonly ports: readonly number[];
  /** ServiceEntry workloadSelector labels (subsets select pods with these too). */
  readonly workloadSelector?: Labels;
}

/** istioctl's selector text (k8s labels.Set.String()): `a=1,b=2`, keys sorted. */
export function selectorText(labels: Labels | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels![k]}`)
    .join(',');
}

/** Go's %v of a string slice: `[a b]`. */
export const goList = (items: readonly (string | number)[]): string => `[${items.join(' ')}]`;

/** Istio's host.Name.Matches: true when two hosts (exact, `*` or `*.suffix`) overlap. */
export function hostsOverlap(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aWild) return b.endsWith(a.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** A short name becomes `name.NAMESPACE.svc.SUFFIX`; wildcards and dotted names stay (istioctl's ConvertHostToFQDN). */
export function hostFqdn(host: string, namespace: string, domainSuffix: string): string {
  return host.startsWith('*') || host.includes('.') ? host : `${host}.${namespace}.svc.${domainSuffix}`;
}

const allNamespaces = '*';

export class AnalysisInput {
  private hostIndex?: { scoped: Map<string, AnalysisHost>; wildcards: Array<{ scope: string; entry: AnalysisHost }> };
  private namespaceList?: KubeObject[];

  constructor(readonly context: PushContext) {}

  get domainSuffix(): string {
    return this.context.options.domainSuffix;
  }

  get rootNamespace(): string {
    return this.context.options.rootNamespace;
  }

  stored(kind: KindName): StoredObject[] {
    return [...(this.context.snapshot.get(kind)?.values() ?? [])];
  }

  resource(kind: KindName, namespace: string, name: string): AnalysisResource {
    const s = this.context.snapshot.get(kind)?.get(`${namespace}/${name}`);
    return { kind, namespace, name, ...(s?.origin ? { origin: s.origin } : {}) };
  }

  resourceOf(s: StoredObject): AnalysisResource {
    return { kind: s.kind, namespace: s.object.metadata.namespace ?? '', name: s.object.metadata.name, ...(s.origin ? { origin: s.origin } : {}) };
  }

  /** Pods by namespace and label, shared with analyses of other contexts whose pods are the same. */
  private get podIndex(): PodIndex {
    return podIndexOf(this.context.snapshot.get('Pod'));
  }

  get pods(): readonly KubeObject[] {
    return this.podIndex.pods;
  }

  podsIn(namespace: string): readonly KubeObject[] {
    return this.podIndex.in(namespace);
  }

  /**
   * Pods carrying every label of `selector` (an empty selector selects every
   * pod, as Kubernetes' labels.SelectorFromSet does), optionally in one
   * namespace. Looks only at the pods of the selector's rarest label.
   */
  podsMatching(selector: Labels | undefined, namespace?: string): KubeObject[] {
    const candidates = this.candidates(selector, namespace);
    return candidates.filter((p) => (namespace === undefined || p.metadata.namespace === namespace) && labelsMatch(selector, p.metadata.labels ?? {}));
  }

  /** Whether any pod carries every label of `selector` (and passes `accept`): stops at the first. */
  hasPodMatching(selector: Labels | undefined, namespace?: string, accept: (pod: KubeObject) => boolean = () => true): boolean {
    return this.candidates(selector, namespace).some(
      (p) => (namespace === undefined || p.metadata.namespace === namespace) && labelsMatch(selector, p.metadata.labels ?? {}) && accept(p),
    );
  }

  /** The pods of the selector's rarest label (all pods, or the namespace's, for an empty selector). */
  private candidates(selector: Labels | undefined, namespace: string | undefined): readonly KubeObject[] {
    const entries = Object.entries(selector ?? {});
    if (entries.length === 0) return namespace === undefined ? this.pods : this.podsIn(namespace);
    let rarest: readonly KubeObject[] | undefined;
    for (const [k, v] of entries) {
      const list = this.podIndex.withLabel(k, v);
      if (!rarest || list.length < rarest.length) rarest = list;
    }
    return rarest!;
  }

  get namespaces(): readonly KubeObject[] {
    this.namespaceList ??= this.stored('Namespace').map((s) => s.object);
    return this.namespaceList;
  }

  /**
   * The service a reference from `namespace` (with the referrer's exportTo)
   * reaches, looked up as istioctl's GetDestinationHost does: hosts exported
   * to all namespaces, then to the referrer's namespace (or its exportTo
   * namespaces), then wildcard ServiceEntry hosts visible there.
   */
  destinationHost(namespace: string, exportTo: readonly string[] | undefined, host: string): AnalysisHost | undefined {
    const { scoped, wildcards } = this.hosts();
    const fqdn = hostFqdn(host, namespace, this.domainSuffix);
    const all = scoped.get(`${allNamespaces}/${fqdn}`);
    if (all) return all;
    const scopes = !exportTo || exportTo.length === 0 ? [namespace] : exportTo.map((e) => (e === '.' ? namespace : e));
    for (const scope of scopes) {
      const found = scoped.get(`${scope}/${fqdn}`);
      if (found) return found;
    }
    const bare = host.startsWith('*') ? host.slice(1) : host;
    for (const { scope, entry } of wildcards) {
      if (scope !== allNamespaces && scope !== namespace) continue;
      if (bare.endsWith(entry.host.slice(1))) return entry;
    }
    return undefined;
  }

  private hosts(): NonNullable<AnalysisInput['hostIndex']> {
    if (this.hostIndex) return this.hostIndex;
    const scoped = new Map<string, AnalysisHost>();
    const wildcards: Array<{ scope: string; entry: AnalysisHost }> = [];
    const add = (scope: string, entry: AnalysisHost): void => {
      scoped.set(`${scope}/${entry.host}`, entry);
      if (entry.host.startsWith('*')) wildcards.push({ scope, entry });
    };
    for (const { object } of this.stored('ServiceEntry')) {
      const spec = object.spec as ServiceEntrySpec;
      const ns = object.metadata.namespace ?? '';
      const ports = (spec.ports ?? []).map((p) => p.number);
      const selector = spec.workloadSelector?.labels;
      const exportTo = spec.exportTo ?? [];
      const scopes = exportTo.length === 0 || exportTo.includes(allNamespaces) ? [allNamespaces] : exportTo.map((e) => (e === '.' ? ns : e));
      for (const h of spec.hosts ?? []) {
        const entry: AnalysisHost = { host: hostFqdn(h, ns, this.domainSuffix), ports, ...(selector ? { workloadSelector: selector } : {}) };
        for (const scope of scopes) add(scope, entry);
      }
    }
    // Kubernetes Services (ExternalName ones too), scoped by the networking.istio.io/exportTo annotation.
    for (const { object } of this.stored('Service')) {
      const ns = object.metadata.namespace ?? '';
      const ports = ((object.spec as { ports?: Array<{ port?: number }> } | undefined)?.ports ?? []).map((p) => p.port ?? 0);
      const annotation = object.metadata.annotations?.['networking.istio.io/exportTo'];
      const scopes = annotation ? annotation.split(',').map((e) => (e.trim() === '.' ? ns : e.trim())) : [allNamespaces];
      const entry: AnalysisHost = { host: `${object.metadata.name}.${ns}.svc.${this.domainSuffix}`, ports };
      for (const scope of scopes) add(scope, entry);
    }
    this.hostIndex = { scoped, wildcards };
    return this.hostIndex;
  }

  /** Istio's PodInMesh: a sidecar container, else the inject label or annotation, else the namespace's injection label. */
  podInMesh(pod: KubeObject): boolean {
    const spec = pod.spec as { containers?: Array<{ name?: string; image?: string }>; initContainers?: Array<{ name?: string; image?: string }> } | undefined;
    if ([...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some((c) => c.name === 'istio-proxy' && c.image)) return true;
    const label = pod.metadata.labels?.['sidecar.istio.io/inject'] ?? pod.metadata.annotations?.['sidecar.istio.io/inject'];
    if (label !== undefined) return label === 'true';
    const ns = this.context.snapshot.get('Namespace')?.get(`/${pod.metadata.namespace ?? ''}`)?.object;
    return ns?.metadata.labels?.['istio-injection'] === 'enabled';
  }
}
