// Typed stores for every kind meshd knows. Objects enter through source
// events; Istio specs are validated on the way in. An invalid object is
// rejected with one log line and a metric, and the last valid version (if
// any) keeps serving.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { refKey, type KubeObject, type ObjectOrigin, type ObjectRef, type SourceEvent } from './kube.js';
import { failClosedAnnotation, isNamespaced, kinds, kindNames, knownKind, type KindName } from './kinds.js';
import type { KindValidators } from './validators.js';

export interface StoredObject {
  readonly kind: KindName;
  readonly object: KubeObject;
  readonly origin?: ObjectOrigin;
}

/** One accepted change to the model, as the debouncer merges them. */
export interface ModelChange {
  readonly kind: KindName;
  readonly namespace: string;
  readonly name: string;
  readonly previous?: KubeObject;
  readonly current?: KubeObject;
}

export interface Rejection {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly reason: string;
  readonly origin?: ObjectOrigin;
  /** The rejected object as received (analysis still reports its broken references, as istioctl does). */
  readonly object?: KubeObject;
  /** A valid version of the object keeps serving (not a fail-closed stand-in). */
  readonly keptPreviousVersion: boolean;
}

/** A read-only view of every store at one moment; push contexts are built from it. */
export type ModelSnapshot = ReadonlyMap<KindName, ReadonlyMap<string, StoredObject>>;

export interface MeshModelOptions {
  logger: Logger;
  registry?: Registry;
  /** Every kind's validator, completed by the composition root (src/security/validation.ts: kindValidators). */
  validators: KindValidators;
}

function rejectionCounter(registry: Registry | undefined): Counter<'group' | 'version' | 'resource' | 'reason'> | undefined {
  if (!registry) return undefined;
  const name = 'galley_validation_failed';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'group' | 'version' | 'resource' | 'reason'>;
  return new Counter({
    name,
    help: 'Istio configuration objects rejected by validation.',
    labelNames: ['group', 'version', 'resource', 'reason'],
    registers: [registry],
  });
}

const objectKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Kinds whose status meshd itself writes (analysis messages, Gateway API conditions). */
const istioKinds: ReadonlySet<KindName> = new Set([
  'VirtualService',
  'DestinationRule',
  'ServiceEntry',
  'Sidecar',
  'Gateway',
  'PeerAuthentication',
  'AuthorizationPolicy',
  'RequestAuthentication',
  'Telemetry',
  'EnvoyFilter',
  'GatewayClass',
  'KubernetesGateway',
  'HTTPRoute',
  'GRPCRoute',
  'ReferenceGrant',
]);

/**
 * What makes an object a different configuration: not its resourceVersion or
 * managedFields, and for Istio kinds not its status (meshd's own analysis
 * messages land there; writing them must not trigger another push).
 */
function configFingerprint(kind: KindName, object: KubeObject): string {
  const { resourceVersion: _rv, managedFields: _mf, ...metadata } = object.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  const { status: _status, ...rest } = object;
  return JSON.stringify({ ...(istioKinds.has(kind) ? rest : object), metadata });
}

export class MeshModel {
  private readonly stores = new Map<KindName, Map<string, StoredObject>>();
  /**
   * The stores as the last snapshot copied them, until the kind changes: a
   * kind no change touched is the very same map in the next snapshot, so
   * whatever is derived from it alone can be reused (see PushContext).
   */
  private readonly frozen = new Map<KindName, ReadonlyMap<string, StoredObject>>();
  /** Serialized form of each stored object, to drop re-deliveries that change nothing. */
  private readonly fingerprints = new Map<string, string>();
  /** Rejected objects, with the fingerprint of the rejected version: a re-delivery of it (a status write) is no new rejection. */
  private readonly rejected = new Map<string, { rejection: Rejection; fingerprint: string }>();
  private rejectionChanges = 0;
  private readonly logger: Logger;
  private readonly rejections: ReturnType<typeof rejectionCounter>;
  /** What the model accepts; the validation webhook answers with the same table. */
  readonly validators: KindValidators;

  constructor(options: MeshModelOptions) {
    this.logger = options.logger;
    this.validators = options.validators;
    this.rejections = rejectionCounter(options.registry);
    for (const kind of kindNames) this.stores.set(kind, new Map());
  }

  /** Applies source events; returns the changes actually made (invalid and unchanged objects are not changes). */
  apply(events: readonly SourceEvent[]): ModelChange[] {
    const changes: ModelChange[] = [];
    for (const event of events) {
      const change = event.type === 'upsert' ? this.upsert(event.object, event.origin) : this.remove(event.ref);
      if (change) changes.push(change);
    }
    return changes;
  }

  get(kind: KindName, namespace: string, name: string): KubeObject | undefined {
    return this.stores.get(kind)?.get(objectKey(namespace, name))?.object;
  }

  list(kind: KindName): StoredObject[] {
    return [...(this.stores.get(kind)?.values() ?? [])];
  }

  /** Objects currently rejected (their last valid version, if any, still serves). */
  currentRejections(): Rejection[] {
    return [...this.rejected.values()].map((r) => r.rejection);
  }

  /** Grows whenever the set of rejections changes (an object rejected, re-rejected for new content, fixed or deleted). */
  get rejectionsRevision(): number {
    return this.rejectionChanges;
  }

  snapshot(): ModelSnapshot {
    const copy = new Map<KindName, ReadonlyMap<string, StoredObject>>();
    for (const [kind, store] of this.stores) {
      let frozen = this.frozen.get(kind);
      if (!frozen) {
        frozen = new Map(store);
        this.frozen.set(kind, frozen);
      }
      copy.set(kind, frozen);
    }
    return copy;
  }

  private upsert(raw: KubeObject, origin: ObjectOrigin | undefined): ModelChange | undefined {
    const kind = knownKind(raw?.apiVersion, raw?.kind);
    const name = raw?.metadata?.name;
    if (!kind) {
      this.logger.warn({ apiVersion: raw?.apiVersion, kind: raw?.kind, name, ...origin }, 'skipping object of unknown kind');
      return undefined;
    }
    const namespace = isNamespaced(kind) ? raw.metadata.namespace || 'default' : '';
    const object: KubeObject = namespace === (raw.metadata.namespace ?? '') ? raw : { ...raw, metadata: { ...raw.metadata, namespace } };
    const problems = typeof name === 'string' && name.length > 0 ? this.validators[kind](object) : ['metadata.name: required'];
    const ref = refKey({ kind, namespace, name: name ?? '' });
    if (problems.length > 0) {
      const reason = problems.join('; ');
      this.reject({ kind, namespace, name: name ?? '', reason, ...(origin ? { origin } : {}), object }, object.apiVersion, configFingerprint(kind, object));
      return kinds[kind].failsClosed && name ? this.failClosed(kind, object, namespace, name, reason, origin) : undefined;
    }
    this.clearRejection(ref);
    const fingerprint = configFingerprint(kind, object);
    if (this.fingerprints.get(ref) === fingerprint) return undefined;
    const store = this.stores.get(kind)!;
    const key = objectKey(namespace, name);
    const previous = store.get(key)?.object;
    store.set(key, origin ? { kind, object, origin } : { kind, object });
    this.frozen.delete(kind);
    this.fingerprints.set(ref, fingerprint);
    return previous ? { kind, namespace, name, previous, current: object } : { kind, namespace, name, current: object };
  }

  private remove(ref: ObjectRef): ModelChange | undefined {
    const kind = ref.kind as KindName;
    const store = this.stores.get(kind);
    if (!store) return undefined;
    const namespace = isNamespaced(kind) ? ref.namespace || 'default' : '';
    const key = objectKey(namespace, ref.name);
    this.clearRejection(refKey({ kind, namespace, name: ref.name }));
    const previous = store.get(key)?.object;
    if (!previous) return undefined;
    store.delete(key);
    this.frozen.delete(kind);
    this.fingerprints.delete(refKey({ kind, namespace, name: ref.name }));
    return { kind, namespace, name: ref.name, previous };
  }

  /**
   * A broken object of a kind that fails closed (AuthorizationPolicy) with no
   * valid version to keep must not widen access by its absence: it is stored
   * as received, marked with failClosedAnnotation, and its translation
   * (src/security/meshPolicies.ts) denies everything to the workloads it
   * selects, until a valid version arrives.
   */
  private failClosed(
    kind: KindName,
    object: KubeObject,
    namespace: string,
    name: string,
    reason: string,
    origin: ObjectOrigin | undefined,
  ): ModelChange | undefined {
    const store = this.stores.get(kind)!;
    const key = objectKey(namespace, name);
    const previous = store.get(key)?.object;
    if (previous && !previous.metadata.annotations?.[failClosedAnnotation]) return undefined; // the last valid version keeps serving
    const marked: KubeObject = {
      ...object,
      metadata: { ...object.metadata, namespace, annotations: { ...(object.metadata.annotations ?? {}), [failClosedAnnotation]: reason } },
    };
    const ref = refKey({ kind, namespace, name });
    const fingerprint = configFingerprint(kind, marked);
    if (this.fingerprints.get(ref) === fingerprint) return undefined;
    store.set(key, origin ? { kind, object: marked, origin } : { kind, object: marked });
    this.frozen.delete(kind);
    this.fingerprints.set(ref, fingerprint);
    this.logger.warn(
      { kind, namespace, name },
      `${kind} ${namespace}/${name} has no valid version: denying all requests to the workloads it selects until it is fixed`,
    );
    return previous ? { kind, namespace, name, previous, current: marked } : { kind, namespace, name, current: marked };
  }

  private clearRejection(ref: string): void {
    if (this.rejected.delete(ref)) this.rejectionChanges++;
  }

  /** Records a rejection; logged and counted once per rejected version, not per re-delivery of it. */
  private reject(found: Omit<Rejection, 'keptPreviousVersion'>, apiVersion: string, fingerprint: string): void {
    const { kind, namespace, name, reason, origin } = found;
    const ref = refKey({ kind, namespace, name });
    if (this.rejected.get(ref)?.fingerprint === fingerprint) return;
    const previous = this.get(kind as KindName, namespace, name);
    const kept = previous !== undefined && !previous.metadata.annotations?.[failClosedAnnotation];
    this.rejected.set(ref, { rejection: { ...found, keptPreviousVersion: kept }, fingerprint });
    this.rejectionChanges++;
    this.logger.warn(
      { kind, namespace, name, reason, ...(origin ?? {}), keptPreviousVersion: kept },
      `rejected invalid ${kind} ${namespace ? `${namespace}/` : ''}${name}: ${reason}`,
    );
    const slash = apiVersion.lastIndexOf('/');
    this.rejections?.inc({
      group: slash > 0 ? apiVersion.slice(0, slash) : 'core',
      version: apiVersion.slice(slash + 1),
      resource: kinds[kind as KindName].resource,
      reason: 'invalid',
    });
  }
}
