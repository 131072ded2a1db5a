// Leader election on a coordination.k8s.io/v1 Lease, with the semantics of
// client-go's leaderelection (which istiod uses): a candidate takes the lease
// when it is free or its holder has not renewed it for leaseDuration
// (measured on the candidate's own clock, from when it last saw the record
// change, so clocks need not agree); the holder renews every retryPeriod and
// steps down when it could not renew for renewDeadline; every write carries
// the resourceVersion read, so two candidates can never both win (409).
// Durations default to istiod's: 30 s lease, 15 s renew deadline, 7.5 s retry.
//
// Take-over bound: a candidate polls at most every retryPeriod (jittered
// below it), so it sees the holder's last renewal at most one retryPeriod
// after it was written, and it tries again the moment that observation is
// leaseDuration old instead of at its next poll. An orphaned Lease is thus
// taken between leaseDuration and leaseDuration + retryPeriod after its
// renewTime (plus request round trips).
import type { Logger } from 'pino';
import { KubeApiError, type KubeHttp, collectionPath, objectPath } from './kubeHttp.js';

/** Lease name for meshd's singleton work (CA secret, root-cert ConfigMaps, status). */
export const defaultLeaseName = 'istio-leader';

export interface LeaderElectorOptions {
  http: KubeHttp;
  logger: Logger;
  /** Namespace of the Lease (istiod: its own namespace, istio-system). */
  namespace: string;
  name?: string;
  /** This replica's identity, usually the pod name. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  /** Injectable clock for tests of expiry arithmetic. */
  now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; [key: string]: unknown };
  spec?: LeaseSpec;
}

const leaseApiVersion = 'coordination.k8s.io/v1';

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaseLeaderElector {
  private readonly http: KubeHttp;
  private readonly logger: Logger;
  private readonly namespace: string;
  private readonly name: string;
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly onStartedLeading: () => void | Promise<void>;
  private readonly onStoppedLeading: () => void | Promise<void>;
  private leading = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewAt = 0;
  /** The last record seen, and when (local clock) it last changed. */
  private observed: { key: string; at: number } | undefined;
  /** When the lease another replica holds expires unless renewed (local clock); undefined when none does. */
  private otherHolderExpiresAt: number | undefined;
  private ticking: Promise<void> = Promise.resolve();

  constructor(options: LeaderElectorOptions) {
    this.http = options.http;
    this.logger = options.logger;
    this.namespace = options.namespace;
    this.name = options.name ?? defaultLeaseName;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? 30_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? this.leaseDurationMs / 2;
    this.retryPeriodMs = options.retryPeriodMs ?? this.leaseDurationMs / 4;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error(
        `leader election needs leaseDuration > renewDeadline > retryPeriod, got ${this.leaseDurationMs}/${this.renewDeadlineMs}/${this.retryPeriodMs} ms`,
      );
    }
    this.now = options.now ?? Date.now;
    this.onStartedLeading = options.onStartedLeading;
    this.onStoppedLeading = options.onStoppedLeading;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops campaigning. A leader hands the lease back (empty holder) so
   * another replica takes over at its next retry instead of waiting for expiry;
   * `release: false` simulates a replica that dies without a word.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.ticking;
    if (!this.leading) return;
    if (options.release ?? true) await this.release();
    await this.stepDown();
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const renewed = await this.tryAcquireOrRenew().catch((error: unknown) => {
      this.logger.warn(
        { lease: `${this.namespace}/${this.name}`, identity: this.identity, err: String((error as Error).message ?? error) },
        'leader election: lease update failed',
      );
      return false;
    });
    if (!this.running) return;
    const now = this.now();
    if (renewed) {
      this.lastRenewAt = now;
      if (!this.leading) {
        this.leading = true;
        this.logger.info({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'leader election lock obtained');
        await this.invoke(this.onStartedLeading, 'onStartedLeading');
      }
    } else if (this.leading && now - this.lastRenewAt > this.renewDeadlineMs) {
      await this.stepDown();
    }
    this.schedule(this.leading ? this.retryPeriodMs : this.candidateDelayMs());
  }

  /**
   * Candidates poll with jitter so replicas do not collide in step, below
   * retryPeriod so a renewal is seen within one retryPeriod, and come back
   * exactly when the lease they saw held expires.
   */
  private candidateDelayMs(): number {
    const poll = this.retryPeriodMs * (0.8 + Math.random() * 0.2);
    if (this.otherHolderExpiresAt === undefined) return poll;
    return Math.min(poll, Math.max(0, this.otherHolderExpiresAt - this.now()) + 1);
  }

  private async stepDown(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.logger.info({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'leader election lock lost');
    await this.invoke(this.onStoppedLeading, 'onStoppedLeading');
  }

  private async invoke(callback: () => void | Promise<void>, which: string): Promise<void> {
    try {
      await callback();
    } catch (error) {
      this.logger.error({ err: String(error), identity: this.identity }, `leader election ${which} callback failed`);
    }
  }

  /** One round: true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    this.otherHolderExpiresAt = undefined;
    let lease: Lease;
    try {
      lease = await this.http.get<Lease>(objectPath(leaseApiVersion, 'leases', this.namespace, this.name));
    } catch (error) {
      if (!(error instanceof KubeApiError && error.notFound)) throw error;
      return this.create(this.now());
    }
    // Read after the answer: a record seen changed is at most this old, so expiry is never counted early.
    const now = this.now();
    const spec = lease.spec ?? {};
    const key = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    let observed = this.observed;
    const changed = observed?.key !== key;
    if (!observed || changed) observed = this.observed = { key, at: now };
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
    const held = holder !== '' && holder !== this.identity && observed.at + durationMs > now;
    if (held) {
      this.otherHolderExpiresAt = observed.at + durationMs;
      if (changed) {
        this.logger.debug(
          { lease: `${this.namespace}/${this.name}`, identity: this.identity, holder, renewTime: spec.renewTime, takeOverInMs: durationMs },
          'leader election: lease held by another replica; taking it over if it goes unrenewed',
        );
      }
      return false;
    }

    const taking = holder !== this.identity;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.round(this.leaseDurationMs / 1000)),
        renewTime: microTime(now),
        acquireTime: taking ? microTime(now) : (spec.acquireTime ?? microTime(now)),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (taking ? 1 : 0),
      },
    };
    try {
      // metadata.resourceVersion is what we read: a concurrent writer makes this a 409.
      const written = await this.http.put<Lease>(objectPath(leaseApiVersion, 'leases', this.namespace, this.name), next);
      this.observed = { key: JSON.stringify([written.spec?.holderIdentity, written.spec?.renewTime, written.spec?.leaseDurationSeconds]), at: now };
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.conflict) return false;
      throw error;
    }
  }

  private async create(now: number): Promise<boolean> {
    const lease: Lease = {
      apiVersion: leaseApiVersion,
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.round(this.leaseDurationMs / 1000)),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      await this.http.post(collectionPath(leaseApiVersion, 'leases', this.namespace), lease);
      return true;
    } catch (error) {
      // Another replica created it first.
      if (error instanceof KubeApiError && error.conflict) return false;
      throw error;
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.http.get<Lease>(objectPath(leaseApiVersion, 'leases', this.namespace, this.name));
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.http.put(objectPath(leaseApiVersion, 'leases', this.namespace, this.name), {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.now()) },
      });
    } catch (error) {
      this.logger.warn({ err: String((error as Error).message ?? error), identity: this.identity }, 'leader election: could not release the lease');
    }
  }
}
