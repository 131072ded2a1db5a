// Wires sources → model → debouncer → push context → generators. The ADS
// server reads `generator` for every proxy and listens to `onPush` for what
// to push to whom. The layers above supply what this layer must not import:
// the validators of the kinds validated above the model, and the xDS layer's
// generators (serve wires both: see docs/ARCHITECTURE.md).
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConfigSource, SourceEvent } from '../model/kube.js';
import { MeshModel, type ModelChange } from '../model/meshModel.js';
import type { KindValidators } from '../model/validators.js';
import type { PushRequest, ResourceGenerator } from './xdsContract.js';
import { analyzeMissingSubsets } from './analysis.js';
import { cacheChangeOf, changeImpact, pushRequestFor } from './changes.js';
import { reusableEntries } from './contextCache.js';
import { Debouncer } from './debouncer.js';
import { LatestOnlyRunner } from './latestOnlyRunner.js';
import { PushContext, defaultPushContextOptions } from './pushContext.js';
import { PushTimings } from './pushTimings.js';

export interface MeshPipelineOptions {
  debounceAfterMs: number;
  debounceMaxMs: number;
  logger: Logger;
  registry: Registry;
  trustDomain: string;
  clusterId: string;
  domainSuffix?: string;
  rootNamespace?: string;
  /** A gateway workload only uses Gateways of its own namespace (istiod's PILOT_SCOPE_GATEWAY_TO_NAMESPACE). */
  scopeGatewayToNamespace?: boolean;
  /** Every kind's validator, for the model (src/security/validation.ts: kindValidators). */
  validators: KindValidators;
  /** The xDS layer's generators (src/xds/gen/meshGeneration.ts: meshGeneration). */
  generation: PipelineGeneration;
  /**
   * istiod's PILOT_ENABLE_EDS_DEBOUNCE (default true). When false, an endpoint change
   * (an EndpointSlice, or a Pod: its labels and readiness make its endpoints, as istiod's
   * pod handler turns them into endpoint updates) is pushed at once instead of waiting for
   * the quiet time, together with whatever else was waiting: one push context holds every
   * change made before it.
   */
  edsDebounce?: boolean;
}

/** What the pipeline needs from the generators above it, injected by the composition root. */
export interface PipelineGeneration {
  /** The generator the ADS server reads for every proxy; it must read the push context `contextOf` gives for a request. */
  generator(contextOf: (request?: PushRequest) => PushContext, logger: Logger): ResourceGenerator;
}

/** Work on a push context that must not delay its push: analysis, status, logs of findings. */
export type AnalysisTask = (context: PushContext) => void | Promise<void>;

/** Marks a batch in which only the model's rejections changed: nothing to rebuild, but listeners of onChange must hear of it. */
const rejectionsChanged = 'rejections changed';
type PendingChange = ModelChange | typeof rejectionsChanged;

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export class MeshPipeline {
  readonly model: MeshModel;
  /** The injected generator (PipelineGeneration.generator), reading the push context each request pins. */
  readonly generator: ResourceGenerator;
  private context: PushContext;
  private readonly listeners: ((request: PushRequest) => void)[] = [];
  private readonly unpushedListeners: ((request: PushRequest) => void)[] = [];
  private readonly changeListeners: ((changes: readonly ModelChange[]) => void)[] = [];
  private readonly debouncer: Debouncer<PendingChange>;
  private started = false;
  private readonly syncWaiters: (() => void)[] = [];
  private pushCount = 0;
  private reportedMissingSubsets = new Set<string>();
  private readonly triggers: Counter<'type'>;
  private readonly missingSubsetGauge: Gauge;
  private readonly timings: PushTimings;
  private readonly analysisTasks: AnalysisTask[] = [(context) => this.reportMissingSubsets(context)];
  private readonly analysis: LatestOnlyRunner<PushContext>;
  private pushesWritten: (() => Promise<void>) | undefined;

  constructor(
    private readonly sources: readonly ConfigSource[],
    private readonly options: MeshPipelineOptions,
  ) {
    const { registry, logger } = options;
    this.model = new MeshModel({ logger, registry, validators: options.validators });
    this.context = this.newContext();
    this.debouncer = new Debouncer({ afterMs: options.debounceAfterMs, maxMs: options.debounceMaxMs }, (items, firstAt) => this.release(items, firstAt));
    this.triggers = metric(
      registry,
      'pilot_push_triggers',
      () =>
        new Counter({
          name: 'pilot_push_triggers',
          help: 'Total number of times a push was triggered, by change kind.',
          labelNames: ['type'],
          registers: [registry],
        }),
    );
    this.missingSubsetGauge = metric(
      registry,
      'meshd_virtual_service_missing_subsets',
      () =>
        new Gauge({
          name: 'meshd_virtual_service_missing_subsets',
          help: 'VirtualService destinations naming a subset no DestinationRule defines (requests to them fail with 503).',
          registers: [registry],
        }),
    );
    this.timings = new PushTimings(registry, logger);
    this.analysis = new LatestOnlyRunner(
      (context) => this.runAnalysis(context),
      (error) => logger.error({ err: error }, 'analysis failed'),
      () => this.pushesWritten?.() ?? Promise.resolve(),
    );
    // Generators read the context pinned to the push (istiod's PushRequest.Push), so a response
    // carries the content its version names even when a newer context exists by the time it is built.
    const contextOf = (request?: PushRequest): PushContext => (request?.push instanceof PushContext ? request.push : this.context);
    this.generator = options.generation.generator(contextOf, logger);
  }

  /** Starts every source; resolves once all delivered their initial state and the first push context exists. */
  async start(): Promise<void> {
    const sink = (events: readonly SourceEvent[]): void => {
      const rejections = this.model.rejectionsRevision;
      const changes = this.model.apply(events);
      if (!this.started) return;
      this.debouncer.add(changes);
      if (this.options.edsDebounce === false && changes.some((c) => endpointKinds.has(c.kind))) this.debouncer.flush();
      // A rejected update changes no served object, yet analysis (IST0106) and status must follow it.
      if (this.model.rejectionsRevision !== rejections) this.debouncer.add([rejectionsChanged]);
    };
    await Promise.all(this.sources.map((s) => s.start(sink)));
    this.context = this.newContext();
    this.started = true;
    void this.requestAnalysis();
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** Resolves once every source delivered its initial state (changes before that reach no onChange listener). */
  whenSynced(): Promise<void> {
    return this.started ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** True once every source delivered its initial state (readiness). */
  get synced(): boolean {
    return this.started;
  }

  onPush(listener: (request: PushRequest) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Called after a debounced batch that reached no proxy, with the state it made (its
   * version and push context, nothing to push): proxies' own requests are answered with it
   * from now on, as istiod's global push context moves on with every batch. Otherwise they
   * would be generated in the context of the last push while the next push context is built
   * from this one, and what they built would not be inherited.
   */
  onUnpushedState(listener: (request: PushRequest) => void): void {
    this.unpushedListeners.push(listener);
  }

  /**
   * Called after every debounced batch of configuration changes, once the
   * push context reflects them, whether or not a push followed; `changes` is
   * empty when the batch only changed which objects are rejected.
   */
  onChange(listener: (changes: readonly ModelChange[]) => void): void {
    this.changeListeners.push(listener);
  }

  current(): PushContext {
    return this.context;
  }

  /**
   * Registers analysis of push contexts. It runs after the context's push went
   * out, one run at a time, on the newest context only (see LatestOnlyRunner):
   * after every debounced batch, rejected or not, but one of EndpointSlice
   * changes only (nothing analysed reads endpoints), and on requestAnalysis.
   */
  onAnalysis(task: AnalysisTask): void {
    this.analysisTasks.push(task);
  }

  /**
   * Holds each analysis until `written()` resolves (the pushes queued so far reached their
   * streams) or `maxWaitMs` passed, so a slow or stuck stream cannot starve it. With more
   * streams than the push concurrency, an analysis started at once would run ahead of
   * most of the push it follows.
   */
  holdAnalysisUntil(written: () => Promise<void>, maxWaitMs = 2_000): void {
    this.pushesWritten = () => settledWithin(written(), maxWaitMs);
  }

  /** Analyses the current context again (e.g. a file stopped parsing); resolves once an analysis that saw it ended. */
  requestAnalysis(): Promise<void> {
    return this.analysis.submit(this.context);
  }

  /** Resolves once no analysis runs or waits (tests, shutdown). */
  analysisIdle(): Promise<void> {
    return this.analysis.idle();
  }

  /** A push of the current state to every proxy (e.g. the first full push once sources synced). */
  pushRequest(version: string, reason: string): PushRequest {
    return { version, reason: [reason], startedAt: performance.now(), push: this.context };
  }

  async stop(): Promise<void> {
    this.debouncer.stop();
    this.analysis.stop();
    await Promise.all(this.sources.map((s) => s.stop()));
  }

  private newContext(previous?: PushContext): PushContext {
    const { domainSuffix, rootNamespace, trustDomain, clusterId, scopeGatewayToNamespace } = this.options;
    return new PushContext(
      this.model.snapshot(),
      {
        ...defaultPushContextOptions,
        ...(domainSuffix ? { domainSuffix } : {}),
        ...(rootNamespace ? { rootNamespace } : {}),
        trustDomain,
        clusterId,
        ...(scopeGatewayToNamespace ? { scopeGatewayToNamespace } : {}),
      },
      previous?.encodings,
      previous,
    );
  }

  private release(items: PendingChange[], firstAt: number): void {
    const changes = items.filter((item): item is ModelChange => item !== rejectionsChanged);
    if (changes.length > 0) this.rebuild(changes, firstAt);
    for (const listener of this.changeListeners) {
      try {
        listener(changes);
      } catch (error) {
        this.options.logger.error({ err: error }, 'configuration change listener failed');
      }
    }
    // After the push (rebuild notified the ADS server): analysis never delays it.
    if (!endpointsOnly(items)) void this.requestAnalysis();
  }

  private rebuild(changes: ModelChange[], firstAt: number): void {
    const previous = this.context;
    const releasedAt = performance.now();
    const next = this.newContext(previous);
    const impacts = changes.map((c) => changeImpact(c, previous, next));
    // Results whose declared dependencies no change touched stay valid: the new context starts with them
    // (an endpoint change keeps CDS, LDS and RDS; a VirtualService change keeps CDS, EDS and the routes of other hosts).
    for (const [key, value] of reusableEntries(previous.cache, cacheChangeOf(impacts))) next.cache.set(key, value);
    const builtAt = performance.now();
    this.context = next;
    for (const change of changes) this.triggers.inc({ type: change.kind });
    const version = `${new Date().toISOString()}/${++this.pushCount}`;
    const unpinned = pushRequestFor(impacts, version, firstAt);
    const reasons = impacts.map((i) => i.reason);
    if (!unpinned) {
      this.notify(this.unpushedListeners, { version, reason: reasons, startedAt: firstAt, push: next }, 'state listener');
      this.timings.batch({ firstAt, releasedAt, builtAt }, changes.length, reasons, 'none');
      return;
    }
    const request: PushRequest = { ...unpinned, push: next };
    this.notify(this.listeners, request, 'push listener');
    this.timings.batch({ firstAt, releasedAt, builtAt, queuedAt: performance.now() }, changes.length, reasons, request.types ?? 'all');
  }

  private notify(listeners: readonly ((request: PushRequest) => void)[], request: PushRequest, what: string): void {
    for (const listener of listeners) {
      try {
        listener(request);
      } catch (error) {
        this.options.logger.error({ err: error }, `${what} failed`);
      }
    }
  }

  private async runAnalysis(context: PushContext): Promise<void> {
    for (const [i, task] of this.analysisTasks.entries()) {
      // Streams waiting to be written get a turn between analyses.
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        await task(context);
      } catch (error) {
        this.options.logger.error({ err: error }, 'analysis failed');
      }
    }
  }

  /** The push path's IST0101 check: one warning per new finding and the gauge. */
  private reportMissingSubsets(context: PushContext): void {
    const findings = analyzeMissingSubsets(context);
    this.missingSubsetGauge.set(findings.length);
    const keys = new Set<string>();
    for (const f of findings) {
      const key = `${f.virtualService}|${f.host}|${f.subset}|${f.destinationRule ?? ''}`;
      keys.add(key);
      if (this.reportedMissingSubsets.has(key)) continue;
      this.options.logger.warn(
        { code: f.code, virtualService: f.virtualService, destinationRule: f.destinationRule ?? null, host: f.host, subset: f.subset },
        `VirtualService ${f.virtualService} routes to subset ${JSON.stringify(f.subset)} of ${f.host}, which ${
          f.destinationRule ? `DestinationRule ${f.destinationRule} does not define` : 'no DestinationRule defines'
        }: requests to it fail with 503`,
      );
    }
    this.reportedMissingSubsets = keys;
  }
}

/** Kinds whose changes reach proxies as endpoint updates (PILOT_ENABLE_EDS_DEBOUNCE). */
const endpointKinds: ReadonlySet<string> = new Set(['EndpointSlice', 'Pod']);

/**
 * A batch of EndpointSlice changes only: the analysis reads no endpoints (only the kinds
 * of the snapshot it names, services and DestinationRules), so its findings cannot differ
 * from those of the context before, analysed already or queued. Saves one whole analysis
 * per endpoint change.
 */
function endpointsOnly(items: readonly PendingChange[]): boolean {
  return items.length > 0 && items.every((item) => item !== rejectionsChanged && item.kind === 'EndpointSlice');
}

/** Resolves once `promise` settles or `ms` passed, whichever comes first; never rejects. */
function settledWithin(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
