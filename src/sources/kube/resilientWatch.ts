// The Watch that every ListWatch of the source uses. On top of
// @kubernetes/client-node's Watch it adds what the informer leaves out:
// - bookmarks are requested, so resuming after a reconnect starts from a
//   recent resourceVersion instead of an expired one;
// - a watch that stays silent past the idle deadline is aborted (a half-open
//   connection would otherwise hang forever) and surfaces as an error;
// - a watch that ends right after it started (a server closing streams in a
//   loop) is reopened only after a jittered, growing delay;
// - once stopped, it opens nothing and aborts what is open (ListWatch can
//   start a watch after its own stop() when stop() lands mid-connection).
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import { Backoff, type BackoffOptions } from './backoff.js';

export class WatchStoppedError extends Error {}

export class WatchIdleError extends Error {
  constructor(path: string, idleMs: number) {
    super(`watch ${path} carried nothing for ${idleMs} ms`);
    this.name = 'WatchIdleError';
  }
}

export interface ResilientWatchOptions {
  idleTimeoutMs: number;
  backoff: BackoffOptions;
  /** A watch shorter than this counts as a failed connection for the reconnect backoff. */
  minHealthyMs?: number;
  /** The API server accepted a watch on `path` (HTTP 200): access to it works. */
  onConnected?: (path: string) => void;
}

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;

export class ResilientWatch extends Watch {
  private stopped = false;
  private readonly open = new Set<AbortController>();
  private readonly reconnects = new Map<string, Backoff>();
  private readonly waits = new Set<{ timer: NodeJS.Timeout; cancel: () => void }>();

  constructor(
    config: KubeConfig,
    private readonly options: ResilientWatchOptions,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: DoneCallback,
  ): Promise<AbortController> {
    const backoff = this.reconnectBackoff(path);
    if (backoff.failures > 0 && !(await this.wait(backoff.peek()))) {
      done(new WatchStoppedError('source stopped'));
      return new AbortController();
    }
    if (this.stopped) {
      done(new WatchStoppedError('source stopped'));
      return new AbortController();
    }
    const startedAt = Date.now();
    let controller: AbortController | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let finished = false;
    // Reports the end of this watch once, whichever comes first: the stream
    // ending, an error, or the idle deadline (which also covers a server that
    // accepts the connection and never answers).
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idleTimer);
      if (controller) this.open.delete(controller);
      if (Date.now() - startedAt < (this.options.minHealthyMs ?? 1_000)) backoff.next();
      else backoff.reset();
      done(err);
    };
    const armIdleTimer = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        finish(new WatchIdleError(path, this.options.idleTimeoutMs));
        controller?.abort();
      }, this.options.idleTimeoutMs);
      idleTimer.unref();
    };
    armIdleTimer();
    try {
      controller = await super.watch(
        path,
        { ...queryParams, allowWatchBookmarks: true },
        (phase, object, raw) => {
          if (finished) return;
          armIdleTimer();
          callback(phase, object, raw);
        },
        finish,
      );
    } catch (error) {
      // Thrown before any request (kubeconfig or credential problems): report it
      // like a failed watch so the informer's owner retries, instead of an
      // unhandled rejection inside ListWatch.
      finish(error);
      return new AbortController();
    }
    if (this.stopped || finished) {
      controller.abort();
      return controller;
    }
    this.open.add(controller);
    this.options.onConnected?.(path);
    return controller;
  }

  stop(): void {
    this.stopped = true;
    for (const wait of this.waits) wait.cancel();
    for (const controller of this.open) controller.abort();
    this.open.clear();
  }

  private reconnectBackoff(path: string): Backoff {
    let backoff = this.reconnects.get(path);
    if (!backoff) {
      backoff = new Backoff(this.options.backoff);
      this.reconnects.set(path, backoff);
    }
    return backoff;
  }

  /** Resolves true after `ms`, or false as soon as the watch is stopped. */
  private wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.waits.delete(entry);
          resolve(!this.stopped);
        }, ms),
        cancel: () => {
          clearTimeout(entry.timer);
          this.waits.delete(entry);
          resolve(false);
        },
      };
      this.waits.add(entry);
    });
  }
}
