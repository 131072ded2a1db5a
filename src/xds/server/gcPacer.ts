// Garbage collection paced by response bytes. grpc-js copies every response into a frame of
// its own, which becomes garbage once the transport took it. A frame lives as long as its
// proxy takes to read it, long enough to be promoted out of V8's young generation, and V8
// then frees it only at its next full collection, which it schedules by the JS heap's
// growth, not by these Buffers': at scale the initial sync left hundreds of MB of dead
// frames (and the JS garbage of building them) in the process (BENCHMARKS.md, issue 13).
// Collecting after a fixed amount of written response bytes bounds that garbage by the
// amount, whatever the number of proxies.
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

export class GcPacer {
  private sinceLast = 0;
  private scheduled = false;
  private count = 0;

  /** `everyBytes` 0 disables pacing (V8 alone decides). */
  constructor(
    readonly everyBytes: number,
    private readonly collect: Collect = everyBytes > 0 ? fullCollection() : () => {},
  ) {}

  /** Collections run so far. */
  get collections(): number {
    return this.count;
  }

  /** `bytes` of a response the transport took: they are garbage now. */
  written(bytes: number): void {
    if (this.everyBytes <= 0) return;
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes || this.scheduled) return;
    // Not inside the transport's callback: after the I/O callbacks of this turn.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sinceLast = 0;
      this.count++;
      this.collect();
    });
  }
}
