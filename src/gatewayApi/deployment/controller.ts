// Keeps each class-`istio` Gateway's ServiceAccount, Deployment and Service as
// the planner says, with server-side apply under istiod's field manager, and
// only while this replica holds the leader Lease. It re-applies when the
// Gateway, its class or the injection settings change, and when someone else
// edits or deletes an owned object; it writes nothing when the API server
// already holds what it last applied. Deleting is the garbage collector's job
// (ownerReferences), so a deleted Gateway needs nothing here.
import { ListWatch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../../model/kube.js';
import { Backoff, defaultBackoff, type BackoffOptions } from '../../sources/kube/backoff.js';
import { KubeApiError, collectionPath, objectPath, type KubeHttp } from '../../sources/kube/kubeHttp.js';
import { ResilientWatch } from '../../sources/kube/resilientWatch.js';
import type { SettingsResult } from '../../webhooks/inject/injectionSettings.js';
import { Label, istioGatewayControllerName, managedLabelValue, planGatewayDeployment, type DesiredObject } from './plan.js';

export interface GatewayDeploymentControllerOptions {
  http: KubeHttp;
  logger: Logger;
  isLeader: () => boolean;
  /** Every gateway.networking.k8s.io Gateway meshd knows. */
  gateways: () => KubeObject[];
  gatewayClass: (name: string) => KubeObject | undefined;
  injection: () => SettingsResult;
  /** False until the Gateways and classes are known: nothing is planned from a partial view. */
  ready?: () => boolean;
  backoff?: BackoffOptions;
  /** How long a watch may stay silent before it is reopened. */
  watchIdleTimeoutMs?: number;
}

/** The owned kinds, watched by the managed label only (as istiod's filtered informers). */
const ownedKinds: ReadonlyArray<{ kind: DesiredObject['kind']; apiVersion: string; plural: string }> = [
  { kind: 'ServiceAccount', apiVersion: 'v1', plural: 'serviceaccounts' },
  { kind: 'Deployment', apiVersion: 'apps/v1', plural: 'deployments' },
  { kind: 'Service', apiVersion: 'v1', plural: 'services' },
];
const managedSelector = `${Label.managed}=${managedLabelValue}`;
/** How long a reconcile waits for the owned-object watches' first lists. */
const listWaitMs = 30_000;

/** What was last applied to one object: the intent, and the server's answer seen through it. */
interface AppliedRecord {
  intent: string;
  answer: string;
}

/**
 * `value` seen through `shape`: only the fields (and list entries) the shape
 * has. Comparing the server's copy of an object this way ignores what others
 * own (status, defaults, other managers' labels) yet catches edits to ours.
 */
export function projectOnto(value: unknown, shape: unknown): unknown {
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return value;
    return value.length < shape.length ? value : shape.map((item, i) => projectOnto(value[i], item));
  }
  if (shape !== null && typeof shape === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    return Object.fromEntries(
      Object.keys(shape).map((key) => [key, projectOnto((value as Record<string, unknown>)[key], (shape as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

const keyOf = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export class GatewayDeploymentController {
  private readonly http: KubeHttp;
  private readonly logger: Logger;
  private readonly options: GatewayDeploymentControllerOptions;
  private readonly applied = new Map<string, AppliedRecord>();
  /** Gateways (`namespace/name`) waiting for a reconcile. */
  private readonly queue = new Set<string>();
  private readonly retries = new Map<string, { backoff: Backoff; timer?: NodeJS.Timeout }>();
  private readonly informers = new Map<DesiredObject['kind'], ListWatch<KubernetesObject>>();
  private watch: ResilientWatch | undefined;
  private watching: Promise<void> | undefined;
  private working: Promise<void> = Promise.resolve();
  private draining = false;
  private stopped = false;
  /** Settles when stop() is called, so no wait outlives the controller. */
  private readonly stopping: Promise<void>;
  private signalStop: () => void = () => undefined;

  constructor(options: GatewayDeploymentControllerOptions) {
    this.options = options;
    this.http = options.http;
    this.logger = options.logger;
    this.stopping = new Promise((resolve) => (this.signalStop = resolve));
  }

  /** This replica now holds the Lease: every Gateway is checked against the cluster. */
  startLeading(): void {
    this.applied.clear();
    this.enqueueAll();
  }

  /** Another replica leads: nothing is written, and the next term starts from what the server holds. */
  stopLeading(): void {
    this.applied.clear();
    this.queue.clear();
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
  }

  gatewayChanged(namespace: string, name: string): void {
    if (!this.options.isLeader()) {
      this.logger.debug({ gateway: `${namespace}/${name}` }, 'gateway deployment: not the Lease holder; the leader deploys this Gateway');
      return;
    }
    this.enqueue(`${namespace}/${name}`);
  }

  gatewayClassChanged(className: string): void {
    for (const gateway of this.options.gateways()) {
      if ((gateway.spec as { gatewayClassName?: unknown } | undefined)?.gatewayClassName === className) this.enqueue(gatewayKey(gateway));
    }
  }

  /** Mesh config or injection values changed: the proxy template may have. */
  enqueueAll(): void {
    for (const gateway of this.options.gateways()) this.enqueue(gatewayKey(gateway));
  }

  /** Resolves once every queued reconcile (and write) has finished. */
  async idle(): Promise<void> {
    while (this.draining) await this.working;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    this.stopLeading();
    this.watch?.stop();
    await Promise.all([...this.informers.values()].map((informer) => informer.stop().catch(() => undefined)));
    await this.idle();
  }

  private enqueue(key: string): void {
    if (this.stopped || !this.options.isLeader() || !(this.options.ready?.() ?? true)) return;
    this.queue.add(key);
    if (!this.draining) {
      this.draining = true;
      this.working = this.drain();
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.size > 0 && !this.stopped) {
        const key = this.queue.values().next().value as string;
        this.queue.delete(key);
        await this.reconcileWithRetry(key);
      }
    } finally {
      this.draining = false;
    }
  }

  private async reconcileWithRetry(key: string): Promise<void> {
    const retry = this.retries.get(key);
    clearTimeout(retry?.timer);
    try {
      await this.reconcile(key);
      this.retries.delete(key);
    } catch (error) {
      if (this.stopped || !this.options.isLeader()) return;
      const state = retry ?? { backoff: new Backoff(this.options.backoff ?? defaultBackoff) };
      const delay = state.backoff.next();
      state.timer = setTimeout(() => this.enqueue(key), delay);
      state.timer.unref();
      this.retries.set(key, state);
      this.logger.warn({ gateway: key, err: errorText(error), retryInMs: delay, attempt: state.backoff.failures }, 'gateway deployment failed; retrying');
    }
  }

  private async reconcile(key: string): Promise<void> {
    if (!this.options.isLeader()) return;
    const [namespace = '', name = ''] = key.split('/');
    const gateway = this.options.gateways().find((g) => g.metadata.namespace === namespace && g.metadata.name === name);
    if (!gateway) return;
    const declared = (gateway.spec as { gatewayClassName?: unknown } | undefined)?.gatewayClassName;
    const className = typeof declared === 'string' ? declared : '';
    const settings = this.options.injection();
    if (!settings.ok) {
      this.logger.error({ gateway: key, err: settings.error }, 'gateway deployment: the injection settings are invalid; the gateway proxy cannot be rendered');
      return;
    }
    const plan = planGatewayDeployment({ gateway, gatewayClass: this.options.gatewayClass(className), injection: settings.settings });
    if (plan.action === 'ignore') {
      this.logger.debug({ gateway: key, reason: plan.reason }, 'gateway deployment: not managed');
      return;
    }
    if (plan.action === 'invalid') {
      this.logger.warn({ gateway: key, reason: plan.reason }, 'gateway deployment: cannot deploy this Gateway');
      return;
    }
    await this.ensureWatching();
    for (const desired of plan.objects) {
      if (!this.options.isLeader() || this.stopped) return;
      try {
        await this.applyIfChanged(key, desired);
      } catch (error) {
        throw new Error(`${desired.kind} ${desired.metadata.namespace}/${desired.metadata.name}: ${errorText(error)}`, { cause: error });
      }
    }
  }

  private async applyIfChanged(gateway: string, desired: DesiredObject): Promise<void> {
    const { kind, metadata } = desired;
    const objectKey = keyOf(kind, metadata.namespace, metadata.name);
    const live = this.informers.get(kind)?.get(metadata.name, metadata.namespace) as KubeObject | undefined;
    const intent = JSON.stringify(desired);
    const record = this.applied.get(objectKey);
    if (record && record.intent === intent && live && JSON.stringify(projectOnto(live, desired)) === record.answer) return;
    if (!live) {
      // The label watch cannot see an unlabelled object of that name: look, as istiod refuses to take one over.
      const existing = await this.getOrUndefined(desired);
      if (existing && existing.metadata.labels?.[Label.managed] === undefined) {
        this.logger.warn(
          { gateway, kind, object: `${metadata.namespace}/${metadata.name}` },
          `gateway deployment: ${kind} ${metadata.namespace}/${metadata.name} exists and is not managed by ${istioGatewayControllerName} (label ${Label.managed} missing); leaving it alone`,
        );
        return;
      }
    }
    const info = ownedKinds.find((k) => k.kind === kind)!;
    const answer = await this.http.apply<KubeObject>(
      objectPath(info.apiVersion, info.plural, metadata.namespace, metadata.name),
      desired,
      istioGatewayControllerName,
    );
    this.applied.set(objectKey, { intent, answer: JSON.stringify(projectOnto(answer, desired)) });
    this.logger.info({ gateway, kind, object: `${metadata.namespace}/${metadata.name}`, created: !live }, `gateway deployment: applied ${kind}`);
  }

  private async getOrUndefined(desired: DesiredObject): Promise<KubeObject | undefined> {
    const info = ownedKinds.find((k) => k.kind === desired.kind)!;
    try {
      return await this.http.get<KubeObject>(objectPath(info.apiVersion, info.plural, desired.metadata.namespace, desired.metadata.name));
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return undefined;
      throw error;
    }
  }

  /**
   * Starts the owned-object watches the first time a Gateway is ours (a mesh
   * without Gateway API pays nothing) and waits for their first lists, so an
   * object's live copy is known before it is compared. A list that keeps
   * failing (RBAC) fails this reconcile, which is retried with backoff.
   */
  private async ensureWatching(): Promise<void> {
    if (!this.watching) {
      this.watch = new ResilientWatch(this.http.kubeConfig, {
        idleTimeoutMs: this.options.watchIdleTimeoutMs ?? 5 * 60_000,
        backoff: this.options.backoff ?? defaultBackoff,
      });
      this.watching = Promise.all(ownedKinds.map((kind) => this.startInformer(kind))).then(() => undefined);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the watches of owned ${ownedKinds.map((k) => k.plural).join(', ')} have not listed yet`)), listWaitMs);
    });
    try {
      await Promise.race([this.watching, timeout, this.stopping]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one owned kind's informer for good (restarting after errors); resolves after its first list. */
  private startInformer(owned: (typeof ownedKinds)[number]): Promise<void> {
    const path = collectionPath(owned.apiVersion, owned.plural);
    const backoff = new Backoff(this.options.backoff ?? defaultBackoff);
    let listed: () => void = () => undefined;
    const firstList = new Promise<void>((resolve) => (listed = resolve));
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const answer = await this.http.get<KubernetesListObject<KubernetesObject>>(`${path}?labelSelector=${encodeURIComponent(managedSelector)}`);
      for (const item of answer.items ?? []) {
        item.apiVersion = owned.apiVersion;
        item.kind = owned.kind;
      }
      answer.items ??= [];
      backoff.reset();
      // ListWatch fills its cache synchronously once this resolves, before any timer runs.
      setTimeout(listed, 0);
      return answer;
    };
    const informer = new ListWatch<KubernetesObject>(path, this.watch!, list, false, managedSelector);
    informer.on('update', (object) => this.ownedChanged(owned.kind, object as KubeObject, false));
    informer.on('delete', (object) => this.ownedChanged(owned.kind, object as KubeObject, true));
    informer.on('error', (error) => {
      if (this.stopped) return;
      const delay = backoff.next();
      this.logger.warn(
        { kind: owned.kind, resource: owned.plural, err: errorText(error), retryInMs: delay },
        'gateway deployment: watch of owned objects failed; restarting',
      );
      setTimeout(() => {
        if (!this.stopped) void informer.start();
      }, delay).unref();
    });
    this.informers.set(owned.kind, informer);
    void informer.start();
    return firstList;
  }

  /** An owned object was edited or deleted: if it no longer holds what was applied, its Gateway is reconciled. */
  private ownedChanged(kind: DesiredObject['kind'], object: KubeObject, deleted: boolean): void {
    const namespace = object.metadata.namespace ?? '';
    const gatewayName = object.metadata.labels?.[Label.gatewayName];
    if (!gatewayName) return;
    const objectKey = keyOf(kind, namespace, object.metadata.name);
    if (deleted) {
      this.applied.delete(objectKey);
      this.logger.info(
        { gateway: `${namespace}/${gatewayName}`, kind, object: `${namespace}/${object.metadata.name}` },
        `gateway deployment: owned ${kind} deleted; restoring it`,
      );
    } else {
      const record = this.applied.get(objectKey);
      // Our own writes come back here too and stop at this comparison.
      if (record && JSON.stringify(projectOnto(object, JSON.parse(record.intent))) === record.answer) return;
    }
    this.enqueue(`${namespace}/${gatewayName}`);
  }
}

function gatewayKey(gateway: KubeObject): string {
  return `${gateway.metadata.namespace ?? ''}/${gateway.metadata.name}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
