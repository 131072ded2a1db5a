// The pods of one model snapshot indexed by namespace and by label, built on
// first use and kept for as long as the snapshot's Pod store lives: the model
// hands the same store to every snapshot until a pod changes, so analyses of
// later push contexts (an endpoint or VirtualService change) reuse it.
import type { KubeObject } from '../model/kube.js';
import type { StoredObject } from '../model/meshModel.js';

export type Labels = Readonly<Record<string, string>>;

export class PodIndex {
  readonly pods: readonly KubeObject[];
  private byNamespace?: Map<string, KubeObject[]>;
  private byLabel?: Map<string, KubeObject[]>;

  constructor(store: ReadonlyMap<string, StoredObject>) {
    this.pods = [...store.values()].map((s) => s.object);
  }

  in(namespace: string): readonly KubeObject[] {
    if (!this.byNamespace) {
      this.byNamespace = new Map();
      for (const pod of this.pods) pushTo(this.byNamespace, pod.metadata.namespace ?? '', pod);
    }
    return this.byNamespace.get(namespace) ?? [];
  }

  /** The pods carrying `key=value`. */
  withLabel(key: string, value: string): readonly KubeObject[] {
    if (!this.byLabel) {
      this.byLabel = new Map();
      for (const pod of this.pods) for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) pushTo(this.byLabel, `${k}=${v}`, pod);
    }
    return this.byLabel.get(`${key}=${value}`) ?? [];
  }
}

function pushTo(map: Map<string, KubeObject[]>, key: string, pod: KubeObject): void {
  const list = map.get(key);
  if (list) list.push(pod);
  else map.set(key, [pod]);
}

const indexes = new WeakMap<ReadonlyMap<string, StoredObject>, PodIndex>();
const noPods: ReadonlyMap<string, StoredObject> = new Map();

/** The index of a Pod store, shared by every analysis of a snapshot holding that very store. */
export function podIndexOf(store: ReadonlyMap<string, StoredObject> | undefined): PodIndex {
  const key = store ?? noPods;
  let index = indexes.get(key);
  if (!index) {
    index = new PodIndex(key);
    indexes.set(key, index);
  }
  return index;
}
