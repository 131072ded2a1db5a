// Gateway API status, as istiod writes it: the conditions the translation
// computes (src/push/gatewayApi/translate.ts) merged into what each object's
// status holds — a condition keeps its lastTransitionTime while its status
// stays the same, a route keeps the parents[] entries of other controllers —
// and written with a merge patch on the status subresource, by the Lease
// holder only, only when something other than timestamps differs. A route
// meshd no longer serves loses meshd's parents[] entries.
import type { Logger } from 'pino';
import { istioGatewayController, type Condition } from '../model/gatewayApi.js';
import type { KindName } from '../model/kinds.js';
import type { KubeObject } from '../model/kube.js';
import type { DesiredStatus } from '../push/gatewayApi/translate.js';
import type { KubeHttp } from '../sources/kube/index.js';
import { StatusPasses, patchStatus, statusResource, type StatusRef } from './statusPasses.js';

export const gatewayApiStatusKinds: readonly KindName[] = ['GatewayClass', 'KubernetesGateway', 'HTTPRoute', 'GRPCRoute'];

export interface GatewayApiStatusWriterOptions {
  http: KubeHttp;
  logger: Logger;
  isLeader: () => boolean;
  apiVersionOf: (kind: KindName) => string | undefined;
  /** The statuses the current push context calls for. */
  desired: () => readonly DesiredStatus[];
  /** The Gateway API objects meshd holds (with the status the informer last delivered with a spec change). */
  observed: () => readonly { kind: KindName; object: KubeObject }[];
  now?: () => Date;
}

type Json = Record<string, unknown>;
const keyOf = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

/** Conditions with the lastTransitionTime of the same condition before, when its status did not change. */
function withTransitions(desired: readonly Condition[], previous: unknown, now: string): Condition[] {
  const before = Array.isArray(previous) ? (previous as Condition[]) : [];
  return desired.map((c) => {
    const was = before.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: was && was.status === c.status && was.lastTransitionTime ? was.lastTransitionTime : now };
  });
}

const sameParent = (a: unknown, b: unknown): boolean => JSON.stringify(normalisedRef(a)) === JSON.stringify(normalisedRef(b));
function normalisedRef(ref: unknown): Json {
  const r = (ref ?? {}) as Json;
  return {
    group: r.group ?? 'gateway.networking.k8s.io',
    kind: r.kind ?? 'Gateway',
    namespace: r.namespace ?? '',
    name: r.name,
    sectionName: r.sectionName ?? '',
    port: r.port ?? 0,
  };
}

/** The full status to write for an object: desired conditions merged into what it holds. */
export function mergedStatus(kind: KindName, desired: Json | undefined, current: Json | undefined, now: string): Json | undefined {
  const have = current ?? {};
  if (kind === 'HTTPRoute' || kind === 'GRPCRoute') {
    const previous = Array.isArray(have.parents) ? (have.parents as Json[]) : [];
    const others = previous.filter((p) => p.controllerName !== istioGatewayController);
    const desiredParents = (desired?.parents ?? []) as Json[];
    // A route meshd never served and does not serve gets no write.
    if (desiredParents.length === 0 && others.length === previous.length) return undefined;
    const ours = desiredParents.map((p) => {
      const was = previous.find((q) => q.controllerName === istioGatewayController && sameParent(q.parentRef, p.parentRef));
      return { ...p, conditions: withTransitions(p.conditions as Condition[], was?.conditions, now) };
    });
    return { parents: [...others, ...ours] };
  }
  if (!desired) return undefined;
  const out: Json = { ...desired, conditions: withTransitions(desired.conditions as Condition[], have.conditions, now) };
  if (kind === 'KubernetesGateway') {
    const previous = Array.isArray(have.listeners) ? (have.listeners as Json[]) : [];
    out.listeners = ((desired.listeners ?? []) as Json[]).map((l) => ({
      ...l,
      conditions: withTransitions(l.conditions as Condition[], previous.find((p) => p.name === l.name)?.conditions, now),
    }));
  }
  return out;
}

/** The status without timestamps, to tell a real change from a rewrite of the same conditions. */
export function statusFingerprint(status: unknown): string {
  return JSON.stringify(status ?? {}, (key, value: unknown) => (key === 'lastTransitionTime' ? undefined : value));
}

export class GatewayApiStatusWriter {
  /** What this replica wrote, trusted until the informer delivers something else than what the object held before. */
  private readonly written = new Map<string, { wrote: Json; over: string }>();
  private readonly passes: StatusPasses;

  constructor(private readonly options: GatewayApiStatusWriterOptions) {
    this.passes = new StatusPasses(
      options,
      () => this.writeDifferences(),
      () => this.written.clear(),
    );
  }

  /** Writes what differs now; one pass at a time, another after it when asked meanwhile. */
  sync(): void {
    this.passes.sync();
  }

  /** Resolves once no pass is running or waiting (tests, shutdown). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  stop(): void {
    this.passes.stop();
  }

  private async writeDifferences(): Promise<void> {
    const desired = new Map(this.options.desired().map((d) => [keyOf(d.kind, d.namespace, d.name), d]));
    const now = (this.options.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const { kind, object } of this.options.observed()) {
      if (!this.passes.writing) return;
      const namespace = object.metadata.namespace ?? '';
      const key = keyOf(kind, namespace, object.metadata.name);
      const seen = statusFingerprint(object.status);
      const w = this.written.get(key);
      if (w && seen !== w.over) this.written.delete(key);
      const current = (this.written.get(key)?.wrote ?? object.status) as Json | undefined;
      const want = mergedStatus(kind, desired.get(key)?.status, current, now);
      if (!want || statusFingerprint(want) === statusFingerprint(current)) continue;
      await this.write({ kind, namespace, name: object.metadata.name }, key, want, seen);
    }
  }

  private async write(ref: StatusRef, key: string, status: Json, over: string): Promise<void> {
    const outcome = await patchStatus(
      this.options,
      ref,
      status,
      (resource, hint) => `cannot write the status of ${resource}${hint}; retrying after the next change`,
    );
    if (outcome === 'written') {
      this.written.set(key, { wrote: status, over });
      this.options.logger.info({ resource: statusResource(ref) }, 'wrote Gateway API status');
    } else if (outcome === 'gone') this.written.delete(key);
  }
}
