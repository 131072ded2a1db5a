// Native allocator settings the scale benchmark can run meshd under (issue 13):
// much of meshd's RSS at scale is glibc malloc's, not the JS heap (Buffers of
// responses in flight are allocated outside V8), so the allocator's arenas and
// trimming decide how much of the freed memory goes back to the system.
import { existsSync } from 'node:fs';

/** Debian's libjemalloc2 (`apt-get install libjemalloc2`), per architecture. */
const jemallocPaths = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'];

const settings: Record<string, () => Record<string, string>> = {
  /** glibc's defaults: up to 8 arenas per core, dynamic mmap and trim thresholds. */
  default: () => ({}),
  /** Two arenas: threads (libuv's pool, V8's workers) share them instead of each growing its own. */
  arena2: () => ({ MALLOC_ARENA_MAX: '2' }),
  /**
   * Two arenas, and blocks of 128 KiB and more always mmapped (and unmapped when freed):
   * a fixed threshold stops glibc raising it to the size of the large response Buffers freed,
   * which would keep them in the arenas.
   */
  'arena2-mmap': () => ({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' }),
  /** jemalloc instead of glibc malloc, preloaded. */
  jemalloc: () => {
    const library = jemallocPaths.find((p) => existsSync(p));
    if (!library) throw new Error(`allocator jemalloc: none of ${jemallocPaths.join(', ')} exists; install Debian's libjemalloc2`);
    return { LD_PRELOAD: library };
  },
};

/** The environment variables that select an allocator setting. */
export function allocatorEnv(name: string): Record<string, string> {
  const setting = settings[name];
  if (!setting) throw new Error(`unknown allocator ${JSON.stringify(name)}; known: ${Object.keys(settings).join(', ')}`);
  return setting();
}

/** `--allocators a,b`: known names, each checked now (a missing library fails before any run). */
export function allocatorNames(flag: string, text: string): string[] {
  const names = text.split(',');
  for (const name of names) {
    if (!settings[name]) throw new Error(`${flag} ${JSON.stringify(name)}: want ${Object.keys(settings).join(', ')}`);
    allocatorEnv(name);
  }
  return names;
}
