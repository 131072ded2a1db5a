// The demo's traffic client: calls echo continuously through xDS and prints,
// every interval, how many calls each version answered.
import { EchoClient } from './echo.js';
import type { GrpcBootstrap } from './bootstrap.js';

export type Counts = { versions: Map<string, number>; errors: Map<string, number> };

const barWidth = 30;

/** One line per interval, e.g. `21:40:01  v1 ████████████████ 40   v2 ████ 10   errors 0`. */
export function formatCounts(at: Date, counts: Counts, versions: readonly string[]): string {
  const total = [...counts.versions.values(), ...counts.errors.values()].reduce((a, b) => a + b, 0);
  const parts = versions.map((v) => {
    const n = counts.versions.get(v) ?? 0;
    const bar = '█'.repeat(total > 0 ? Math.round((n / total) * barWidth) : 0);
    return `${v} ${bar.padEnd(barWidth)} ${String(n).padStart(3)}`;
  });
  const errors = [...counts.errors.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
  return `${at.toISOString().slice(11, 19)}  ${parts.join('   ')}   errors ${errors || '0'}`;
}

export interface LiveCountsOptions {
  target: string;
  bootstrap: GrpcBootstrap;
  /** Versions always shown, even at zero (others appear when they answer). */
  versions: readonly string[];
  print: (line: string) => void;
  intervalMs?: number;
  /** Pause between calls, so the demo stays light on the CPU. */
  pauseMs?: number;
}

export interface LiveCounts {
  stop(): Promise<void>;
}

const statusNames: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  4: 'DEADLINE_EXCEEDED',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};

export function startLiveCounts(options: LiveCountsOptions): LiveCounts {
  const client = new EchoClient(options.target, options.bootstrap);
  let counts: Counts = { versions: new Map(), errors: new Map() };
  let running = true;
  const shown = [...options.versions];
  const loop = (async () => {
    while (running) {
      const outcome = await client.call('echo', { deadlineMs: 2_000 });
      if (outcome.ok) {
        counts.versions.set(outcome.reply.version, (counts.versions.get(outcome.reply.version) ?? 0) + 1);
        if (!shown.includes(outcome.reply.version)) shown.push(outcome.reply.version);
      } else {
        const name = statusNames[outcome.code] ?? `code ${outcome.code}`;
        counts.errors.set(name, (counts.errors.get(name) ?? 0) + 1);
      }
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  })();
  const timer = setInterval(() => {
    options.print(formatCounts(new Date(), counts, shown));
    counts = { versions: new Map(), errors: new Map() };
  }, options.intervalMs ?? 1_000);
  return {
    stop: async () => {
      running = false;
      clearInterval(timer);
      await loop;
      client.close();
    },
  };
}
