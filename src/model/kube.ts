// The Kubernetes object shapes every source produces and the model consumes.
// Sources (files, Kubernetes API) hand the model plain objects in this shape;
// nothing downstream can tell which source an object came from.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences?: unknown[];
}

export interface KubeObject<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  [field: string]: unknown;
}

/** Where an object was read from, for messages that point at a file and line. */
export interface ObjectOrigin {
  file?: string;
  line?: number;
}

/** Identity of one object independent of API version: `Kind/namespace/name`. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export type SourceEvent = { type: 'upsert'; object: KubeObject; origin?: ObjectOrigin } | { type: 'delete'; ref: ObjectRef };

export type SourceEventSink = (events: readonly SourceEvent[]) => void;

/** A producer of Kubernetes objects: the file source or the Kubernetes API source. */
export interface ConfigSource {
  /** Begins delivering events; resolves once the initial state has been delivered. */
  start(sink: SourceEventSink): Promise<void>;
  stop(): Promise<void>;
  /** True once every initial list has been delivered. */
  readonly synced: boolean;
}

export function objectRef(object: KubeObject): ObjectRef {
  return { kind: object.kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name };
}

export function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** How messages name an object: `VirtualService shop/reviews` (`Namespace shop` for cluster-scoped kinds). */
export function refText(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}
