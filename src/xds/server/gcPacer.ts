// Garbage collection paced by response bytes. grpc-js copies every response into a frame of
// its own, which is garbage once the transport took it. A frame lives as long as its proxy
// takes to read it, long enough to leave V8's young generation, and V8 then frees it only at
// a full collection, which it schedules by the growth of the JS heap, not of these Buffers:
// at scale the initial sync left hundreds of MB of dead frames in the process (BENCHMARKS.md,
// issue 13). A full collection after a fixed amount of written response bytes bounds that
// garbage by the amount, whatever the number of proxies; one more once the writing stops
// returns the rest, so an idle meshd holds its live set, not the last push's garbage.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

export type Collect = () => void;

/** V8's full collection, exposed on demand when node was not started with --expose-gc. */
function fullCollection(): Collect {
  const exposed = (globalThis as { gc?: Collect }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as Collect;
}

export interface GcPacerOptions {
  /** A collection after this many written bytes; 0 disables pacing (V8 alone decides). */
  everyBytes: number;
  /** Written bytes left uncollected when writing stops for `idleMs` (default: a sixteenth of everyBytes). */
  idleBytes?: number;
  idleMs?: number;
  collect?: Collect;
}

export class GcPacer {
  readonly everyBytes: number;
  private readonly idleBytes: number;
  private readonly idleMs: number;
  private readonly collect: Collect;
  private sinceLast = 0;
  private scheduled = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private count = 0;
  private totalMs = 0;

  constructor(options: GcPacerOptions) {
    this.everyBytes = options.everyBytes;
    this.idleBytes = options.idleBytes ?? Math.ceil(options.everyBytes / 16);
    this.idleMs = options.idleMs ?? 1_000;
    this.collect = options.collect ?? (this.everyBytes > 0 ? fullCollection() : () => {});
  }

  /** Collections run so far, and the time they took. */
  get collections(): { count: number; seconds: number } {
    return { count: this.count, seconds: this.totalMs / 1000 };
  }

  /** `bytes` of a response the transport took (or dropped): garbage now. */
  written(bytes: number): void {
    if (this.everyBytes <= 0) return;
    this.sinceLast += bytes;
    if (this.sinceLast >= this.everyBytes && !this.scheduled) {
      // Not inside the transport's callback: after the I/O callbacks of this turn.
      this.scheduled = true;
      setImmediate(() => this.run());
      return;
    }
    // Writing may stop here: collect what is left once nothing more was written for idleMs.
    if (this.sinceLast < this.idleBytes) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.run(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  /** Stops the idle timer (server shutdown). */
  stop(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private run(): void {
    this.scheduled = false;
    this.stop();
    this.sinceLast = 0;
    const start = performance.now();
    this.collect();
    this.totalMs += performance.now() - start;
    this.count++;
  }
}
