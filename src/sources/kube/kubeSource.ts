// The Kubernetes API source: one @kubernetes/client-node ListWatch per kind
// the model stores, turned into the same SourceEvents the file source emits.
//
// The informer does list-then-watch, resumes from the last resourceVersion
// (bookmarks included) and relists on 410 Gone, reconciling deletions. It
// gives up on any other error, so every error restarts it here after a
// jittered exponential backoff; the resourceVersion it kept means a restart
// resumes the watch without losing events.
import { type KubeConfig, ListWatch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ConfigSource, KubeObject, ObjectRef, SourceEvent, SourceEventSink } from '../../model/kube.js';
import type { KindName } from '../../model/kinds.js';
import { Backoff, defaultBackoff, type BackoffOptions } from './backoff.js';
import { DiscoveryNamespaceFilter, type SelectionChange } from './discoveryFilter.js';
import { KubeApiError, KubeHttp, collectionPath, describeTransportError } from './kubeHttp.js';
import { meshConfigMapName, parseMeshConfigMap } from './meshConfig.js';
import type { PodLookup } from './proxyPod.js';
import { ResilientWatch, WatchStoppedError } from './resilientWatch.js';
import { allWatchedKinds, discoverKinds, resourceName, type ResolvedKind, type WatchedKind } from './watchedKinds.js';

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Namespace holding the mesh ConfigMap (istiod: istio-system). */
  systemNamespace?: string;
  /** Name of the mesh ConfigMap (istiod: `istio`). */
  meshConfigMapName?: string;
  /** Kinds to watch; every kind the model stores by default. */
  kinds?: readonly KindName[];
  /** Backoff between retries of discovery and of failed lists/watches. */
  backoff?: BackoffOptions;
  /** Deadline for one list or discovery request. */
  requestTimeoutMs?: number;
  /** A watch that carries nothing (not even a bookmark) for this long is reopened. */
  watchIdleTimeoutMs?: number;
  /** How often kinds the API server did not serve are looked up again (CRDs installed later). */
  rediscoverIntervalMs?: number;
  /**
   * A 403 lasting less than this is logged as a warning with its retry (an
   * API server that just started answers 403 until its RBAC cache is
   * loaded); one lasting longer, once, as an error naming the permission.
   */
  forbiddenGraceMs?: number;
}

/** How long a 403 may last before it is reported as missing RBAC. */
export const defaultForbiddenGraceMs = 30_000;

/** Per-kind state, also reported by status(). */
export interface KindStatus {
  kind: KindName;
  apiVersion: string;
  synced: boolean;
  /** The resourceVersion the next watch resumes from (advanced by events and bookmarks). */
  resourceVersion: string;
  /** The last failure, cleared by the next successful list or watch. */
  error?: string;
  forbidden: boolean;
}

interface KindWatch {
  kind: ResolvedKind;
  /** The collection path its list and watches use. */
  path: string;
  informer: ListWatch<KubernetesObject>;
  /** The initial list has completed; its events are in `pending`. */
  listed: boolean;
  synced: boolean;
  backoff: Backoff;
  retryTimer?: NodeJS.Timeout;
  error?: string;
  /** Its last list or watch was refused (403); set until one succeeds. */
  forbidden: boolean;
  /** When the current streak of 403s began (Date.now()). */
  forbiddenSince?: number;
  /** The streak outlasted the grace period and was logged as an error. */
  forbiddenReported: boolean;
}

interface PendingEvent {
  watch: KindWatch;
  type: 'upsert' | 'delete';
  object: KubeObject;
}

class SourceStoppedError extends Error {}

export class KubeSource implements ConfigSource, PodLookup {
  readonly http: KubeHttp;
  private readonly logger: Logger;
  private readonly systemNamespace: string;
  private readonly meshConfigName: string;
  private readonly wanted: WatchedKind[];
  private readonly backoffOptions: BackoffOptions;
  private readonly rediscoverIntervalMs: number;
  private readonly forbiddenGraceMs: number;
  private readonly watch: ResilientWatch;
  private readonly watches = new Map<KindName, KindWatch>();
  private readonly filter = new DiscoveryNamespaceFilter();
  private notServed: WatchedKind[] = [];
  private pending: PendingEvent[] = [];
  /** performance.now() of the oldest event in `pending`, for the delivery log line. */
  private pendingSince: number | undefined;
  private flushScheduled = false;
  private filterReady = false;
  private discovered = false;
  private stopped = false;
  private sink: SourceEventSink | undefined;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private resolveStarted: (() => void) | undefined;
  private isSynced = false;

  constructor(options: KubeSourceOptions) {
    this.logger = options.logger;
    this.systemNamespace = options.systemNamespace ?? 'istio-system';
    this.meshConfigName = options.meshConfigMapName ?? meshConfigMapName;
    const all = allWatchedKinds();
    this.wanted = options.kinds ? all.filter((k) => options.kinds!.includes(k.kind)) : all;
    this.backoffOptions = options.backoff ?? defaultBackoff;
    this.rediscoverIntervalMs = options.rediscoverIntervalMs ?? 60_000;
    this.forbiddenGraceMs = options.forbiddenGraceMs ?? defaultForbiddenGraceMs;
    this.http = new KubeHttp(options.kubeConfig, { requestTimeoutMs: options.requestTimeoutMs ?? 30_000 });
    this.watch = new ResilientWatch(options.kubeConfig, {
      idleTimeoutMs: options.watchIdleTimeoutMs ?? 5 * 60_000,
      backoff: this.backoffOptions,
      onConnected: (path) => {
        for (const kindWatch of this.watches.values()) if (kindWatch.path === path) this.accessSucceeded(kindWatch);
      },
    });
  }

  get synced(): boolean {
    return this.isSynced;
  }

  /**
   * Starts discovery and the informers. Resolves once every kind's initial
   * list has been delivered (or when stopped first). It never rejects: an
   * unreachable or failing API server is retried until stop(), with
   * `synced` false meanwhile, so callers that must serve /ready while
   * waiting should not await it.
   */
  start(sink: SourceEventSink): Promise<void> {
    if (this.sink) throw new Error('KubeSource.start called twice');
    this.sink = sink;
    const started = new Promise<void>((resolve) => (this.resolveStarted = resolve));
    void this.discover(new Backoff(this.backoffOptions));
    return started;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.discoveryTimer);
    this.watch.stop();
    for (const kindWatch of this.watches.values()) {
      clearTimeout(kindWatch.retryTimer);
      await kindWatch.informer.stop();
    }
    this.resolveStarted?.();
  }

  status(): KindStatus[] {
    const watched = [...this.watches.values()].map((w) => ({
      kind: w.kind.kind,
      apiVersion: w.kind.apiVersion,
      synced: w.synced,
      resourceVersion: w.informer.latestResourceVersion(),
      forbidden: w.forbidden,
      ...(w.error ? { error: w.error } : {}),
    }));
    const missing = this.notServed.map((k) => ({
      kind: k.kind,
      apiVersion: '',
      synced: true,
      resourceVersion: '',
      forbidden: false,
      error: 'not served by the API server',
    }));
    return [...watched, ...missing];
  }

  /**
   * Why the source cannot be trusted right now although it synced: a kind
   * whose list or watch is refused (403) is blind to changes until allowed.
   */
  notReadyReason(): string | undefined {
    const refused = [...this.watches.values()].filter((w) => w.forbidden).map((w) => resourceName(w.kind));
    return refused.length > 0 ? `forbidden to list or watch ${refused.join(', ')}` : undefined;
  }

  /** The watched pod `namespace/name`, from the informer cache. */
  getPod(namespace: string, name: string): KubeObject | undefined {
    return this.watches.get('Pod')?.informer.get(name, namespace) as KubeObject | undefined;
  }

  /** A watched pod having `ip` among its pod IPs (fallback when the node id names no known pod). */
  podByIp(ip: string): KubeObject | undefined {
    const pods = this.watches.get('Pod')?.informer.list() ?? [];
    return pods.find((pod) => podIps(pod as KubeObject).includes(ip)) as KubeObject | undefined;
  }

  // ---- discovery ----

  /**
   * Resolves the served API version of every wanted kind (at start), or of
   * the kinds not served so far (later rounds, so CRDs installed after start
   * are picked up), and starts their informers.
   */
  private async discover(backoff: Backoff): Promise<void> {
    if (this.stopped) return;
    const firstRound = !this.discovered;
    try {
      const result = await discoverKinds(this.http, firstRound ? this.wanted : this.notServed);
      if (this.stopped) return;
      this.discovered = true;
      this.notServed = result.notServed;
      if (firstRound) {
        for (const kind of result.notServed) {
          this.logger.warn(
            { kind: kind.kind, resource: resourceName(kind), versions: kind.versions },
            `kind ${kind.kind} is not served by the API server in any of ${kind.versions.join(', ')} (CRD not installed?); treating it as empty`,
          );
        }
      }
      for (const kind of result.resolved) {
        this.logger.info({ kind: kind.kind, apiVersion: kind.apiVersion }, firstRound ? 'watching kind' : 'kind now served; watching it');
        this.startKind(kind);
      }
      this.scheduleFlush();
      if (this.notServed.length > 0) {
        this.discoveryTimer = setTimeout(() => void this.discover(new Backoff(this.backoffOptions)), this.rediscoverIntervalMs);
        this.discoveryTimer.unref();
      }
    } catch (error) {
      if (this.stopped) return;
      const delay = backoff.next();
      this.logger.warn({ err: errorText(error), retryInMs: delay, attempt: backoff.failures }, 'Kubernetes API discovery failed; retrying');
      this.discoveryTimer = setTimeout(() => void this.discover(backoff), delay);
    }
  }

  // ---- informers ----

  private startKind(kind: ResolvedKind): void {
    const path = collectionPath(kind.apiVersion, kind.plural);
    const kindWatch: KindWatch = {
      kind,
      path,
      informer: undefined as unknown as ListWatch<KubernetesObject>,
      listed: false,
      synced: false,
      backoff: new Backoff(this.backoffOptions),
      forbidden: false,
      forbiddenReported: false,
    };
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const answer = await this.http.get<KubernetesListObject<KubernetesObject>>(path);
      if (this.stopped) throw new SourceStoppedError('source stopped');
      // List items carry no apiVersion/kind on the wire for built-in types.
      for (const item of answer.items ?? []) {
        item.apiVersion = kind.apiVersion;
        item.kind = kind.objectKind;
      }
      answer.items ??= [];
      this.listSucceeded(kindWatch);
      return answer;
    };
    kindWatch.informer = new ListWatch(path, this.watch, list, false);
    const informer = kindWatch.informer;
    informer.on('add', (object) => this.enqueue(kindWatch, 'upsert', object));
    informer.on('update', (object) => this.enqueue(kindWatch, 'upsert', object));
    informer.on('delete', (object) => this.enqueue(kindWatch, 'delete', object));
    informer.on('error', (error) => this.informerFailed(kindWatch, error));
    this.watches.set(kind.kind, kindWatch);
    this.runInformer(kindWatch);
  }

  /** (Re)starts an informer; it resumes from its last resourceVersion, or lists when it has none. */
  private runInformer(kindWatch: KindWatch): void {
    if (this.stopped) return;
    kindWatch.informer.start().catch((error: unknown) => this.informerFailed(kindWatch, error));
  }

  private listSucceeded(kindWatch: KindWatch): void {
    kindWatch.listed = true;
    kindWatch.backoff.reset();
    this.accessSucceeded(kindWatch);
    // ListWatch applies the list to its cache (firing add/update/delete)
    // synchronously right after this promise resolves, before any timer runs;
    // the flush then finds those events queued and can mark the kind synced.
    this.scheduleFlush();
  }

  /** A list or a watch was answered: whatever 403 came before is over. */
  private accessSucceeded(kindWatch: KindWatch): void {
    if (kindWatch.forbidden) {
      const resource = resourceName(kindWatch.kind);
      this.logger.info(
        { kind: kindWatch.kind.kind, resource, forbiddenForMs: Date.now() - (kindWatch.forbiddenSince ?? Date.now()) },
        `access to ${resource} restored`,
      );
    }
    kindWatch.forbidden = false;
    kindWatch.forbiddenReported = false;
    delete kindWatch.forbiddenSince;
    delete kindWatch.error;
  }

  private informerFailed(kindWatch: KindWatch, error: unknown): void {
    if (this.stopped || error instanceof SourceStoppedError || error instanceof WatchStoppedError) return;
    const kind = kindWatch.kind;
    const verb = error instanceof KubeApiError ? 'list' : 'watch';
    const statusCode = error instanceof KubeApiError ? error.statusCode : statusCodeOf(error);
    const delay = kindWatch.backoff.next();
    kindWatch.error = errorText(error);
    if (statusCode === 403) {
      const now = Date.now();
      kindWatch.forbiddenSince ??= now;
      kindWatch.forbidden = true;
      const fields = { kind: kind.kind, apiVersion: kind.apiVersion, resource: resourceName(kind), verb, missingPermission: `${verb} ${resourceName(kind)}` };
      if (now - kindWatch.forbiddenSince >= this.forbiddenGraceMs) {
        // Logged once per streak: retries go on quietly.
        if (!kindWatch.forbiddenReported) {
          kindWatch.forbiddenReported = true;
          this.logger.error(
            { ...fields, forbiddenForMs: now - kindWatch.forbiddenSince },
            `forbidden to ${verb} ${resourceName(kind)} (kind ${kind.kind}): grant meshd's service account "list" and "watch" on ${resourceName(kind)} cluster-wide; ` +
              `until then ${kind.kind} is retried and meshd reports not ready, other kinds keep working`,
          );
        }
      } else {
        this.logger.warn(
          { ...fields, retryInMs: delay },
          `forbidden to ${verb} ${resourceName(kind)} (kind ${kind.kind}); retrying: an API server that just started refuses requests until its RBAC cache is loaded`,
        );
      }
    } else {
      this.logger.warn(
        { kind: kind.kind, apiVersion: kind.apiVersion, verb, statusCode, err: kindWatch.error, retryInMs: delay },
        `${verb} ${resourceName(kind)} failed; retrying`,
      );
    }
    clearTimeout(kindWatch.retryTimer);
    kindWatch.retryTimer = setTimeout(() => this.runInformer(kindWatch), delay);
  }

  private enqueue(kindWatch: KindWatch, type: 'upsert' | 'delete', object: KubernetesObject): void {
    if (this.stopped) return;
    object.apiVersion ??= kindWatch.kind.apiVersion;
    object.kind ??= kindWatch.kind.objectKind;
    if (type === 'upsert') kindWatch.backoff.reset();
    this.pending.push({ watch: kindWatch, type, object: object as KubeObject });
    this.pendingSince ??= performance.now();
    this.scheduleFlush();
  }

  // ---- delivery ----

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.stopped || !this.sink) return;
    for (const kindWatch of this.watches.values()) {
      if (kindWatch.listed) kindWatch.synced = true;
    }
    // Nothing is delivered before namespaces and the mesh config are known:
    // discoverySelectors decide what the rest may deliver.
    if (!this.filterReady) {
      if (!this.namespacesAndMeshConfigSynced()) return;
      this.initialiseFilter();
    }
    const events: SourceEvent[] = [];
    const batch = this.pending;
    const since = this.pendingSince;
    this.pending = [];
    this.pendingSince = undefined;
    for (const item of batch) this.translate(item, events);
    if (events.length > 0) this.deliver(events);
    if (batch.length > 0) {
      this.logger.debug(
        { watchEvents: batch.length, events: events.length, sinceEventMs: since === undefined ? null : Math.round(performance.now() - since) },
        'watch events delivered',
      );
    }
    if (!this.isSynced && this.discovered && [...this.watches.values()].every((w) => w.synced)) {
      this.isSynced = true;
      this.logger.info({ kinds: this.watches.size }, 'Kubernetes source synced');
      this.resolveStarted?.();
    }
  }

  private deliver(events: SourceEvent[]): void {
    try {
      this.sink!(events);
    } catch (error) {
      // A failing consumer must not stop the watches.
      this.logger.error({ err: errorText(error), events: events.length }, 'source event sink threw');
    }
  }

  private namespacesAndMeshConfigSynced(): boolean {
    if (!this.discovered) return false;
    const namespaces = this.watches.get('Namespace');
    const configMaps = this.watches.get('ConfigMap');
    // A forbidden one cannot be waited for: deliver the rest, filtering with what is known.
    const settled = (w: KindWatch | undefined): boolean => !w || w.synced || w.forbidden;
    return settled(namespaces) && settled(configMaps);
  }

  private initialiseFilter(): void {
    this.filterReady = true;
    for (const namespace of this.watches.get('Namespace')?.informer.list() ?? []) {
      this.filter.namespaceUpserted(namespace.metadata?.name ?? '', namespace.metadata?.labels ?? {});
    }
    const meshConfig = this.watches.get('ConfigMap')?.informer.get(this.meshConfigName, this.systemNamespace);
    if (meshConfig) this.applyMeshConfig(meshConfig as KubeObject);
  }

  private isMeshConfig(object: KubeObject): boolean {
    return object.kind === 'ConfigMap' && object.metadata.name === this.meshConfigName && object.metadata.namespace === this.systemNamespace;
  }

  /** Returns the selection change; an invalid mesh config keeps the previous selectors. */
  private applyMeshConfig(configMap: KubeObject | undefined): SelectionChange {
    if (!configMap) return this.filter.setSelectors(undefined);
    const parsed = parseMeshConfigMap(configMap);
    if (!parsed.ok) {
      this.logger.error(
        { kind: 'ConfigMap', namespace: this.systemNamespace, name: this.meshConfigName, reason: parsed.error },
        `mesh config ConfigMap ${this.systemNamespace}/${this.meshConfigName} rejected: ${parsed.error}; keeping the previous discoverySelectors`,
      );
      return { added: [], removed: [] };
    }
    return this.filter.setSelectors(parsed.config.discoverySelectors);
  }

  private translate(item: PendingEvent, out: SourceEvent[]): void {
    const { object, type } = item;
    const namespace = object.metadata.namespace ?? '';
    const ref: ObjectRef = { kind: item.watch.kind.kind, namespace, name: object.metadata.name };

    if (ref.kind === 'Namespace') {
      const wasAdmitted = this.filter.admits(ref.name);
      if (type === 'delete') {
        this.filter.namespaceDeleted(ref.name);
        if (wasAdmitted) out.push({ type: 'delete', ref });
        return;
      }
      const change = this.filter.namespaceUpserted(ref.name, object.metadata.labels ?? {});
      this.expandSelectionChange(change, out);
      // A namespace that just became selected was already delivered by the expansion.
      if (this.filter.admits(ref.name) && !change.added.includes(ref.name)) out.push({ type: 'upsert', object });
      return;
    }

    if (this.isMeshConfig(object)) {
      // The mesh config is read whatever discoverySelectors say.
      const change = this.applyMeshConfig(type === 'delete' ? undefined : object);
      out.push(type === 'delete' ? { type: 'delete', ref } : { type: 'upsert', object });
      this.expandSelectionChange(change, out);
      return;
    }

    if (!this.filter.admits(namespace)) return;
    out.push(type === 'delete' ? { type: 'delete', ref } : { type: 'upsert', object });
  }

  /** Delivers every cached object of newly selected namespaces, and deletes those of deselected ones. */
  private expandSelectionChange(change: SelectionChange, out: SourceEvent[]): void {
    if (change.added.length === 0 && change.removed.length === 0) return;
    this.logger.info({ selected: change.added, deselected: change.removed }, 'discoverySelectors changed the discovered namespaces');
    const namespaces = this.watches.get('Namespace')?.informer;
    for (const name of change.added) {
      const namespace = namespaces?.get(name);
      if (namespace) out.push({ type: 'upsert', object: namespace as KubeObject });
      for (const kindWatch of this.watches.values()) {
        if (!kindWatch.kind.namespaced) continue;
        for (const object of kindWatch.informer.list(name)) {
          if (!this.isMeshConfig(object as KubeObject)) out.push({ type: 'upsert', object: object as KubeObject });
        }
      }
    }
    for (const name of change.removed) {
      out.push({ type: 'delete', ref: { kind: 'Namespace', namespace: '', name } });
      for (const kindWatch of this.watches.values()) {
        if (!kindWatch.kind.namespaced) continue;
        for (const object of kindWatch.informer.list(name)) {
          if (this.isMeshConfig(object as KubeObject)) continue;
          out.push({ type: 'delete', ref: { kind: kindWatch.kind.kind, namespace: name, name: object.metadata?.name ?? '' } });
        }
      }
    }
  }
}

function podIps(pod: KubeObject): string[] {
  const status = (pod.status ?? {}) as { podIP?: unknown; podIPs?: { ip?: unknown }[] };
  const ips = new Set<string>();
  if (typeof status.podIP === 'string') ips.add(status.podIP);
  for (const entry of Array.isArray(status.podIPs) ? status.podIPs : []) {
    if (typeof entry?.ip === 'string') ips.add(entry.ip);
  }
  return [...ips];
}

function statusCodeOf(error: unknown): number {
  if (error && typeof error === 'object') {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
    if (typeof statusCode === 'number') return statusCode;
    if (typeof code === 'number') return code;
  }
  return 0;
}

function errorText(error: unknown): string {
  if (error instanceof KubeApiError) return error.message;
  if (error instanceof Error) {
    const status = statusCodeOf(error);
    return status ? `HTTP ${status}: ${error.message}` : describeTransportError(error);
  }
  return String(error);
}
