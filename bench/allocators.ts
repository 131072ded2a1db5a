// Native allocator settings the scale benchmark can run meshd under (issue 13):
// much of meshd's RSS at scale is glibc malloc's, not the JS heap (Buffers of
// responses in flight are allocated outside V8), so the allocator's arenas and
// trimming decide how much of the freed memory goes back to the system.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './repoRoot.js';

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

/** The image's allocator environment: the Dockerfile's `ENV MALLOC_*=...` lines (test/kube/manifests.test.ts keeps the Deployment's equal). */
export function imageAllocatorEnv(dockerfile: string): Record<string, string> {
  return Object.fromEntries([...dockerfile.matchAll(/^ENV (MALLOC_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/**
 * The setting meshd ships with: the one whose environment is exactly the Dockerfile's, so the
 * benchmark measures what runs in production by default and cannot drift from it.
 */
export function shippedAllocator(dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')): string {
  const image = imageAllocatorEnv(dockerfile);
  const same = (env: Record<string, string>): boolean =>
    Object.keys(env).length === Object.keys(image).length && Object.entries(env).every(([k, v]) => image[k] === v);
  // jemalloc's environment depends on the machine and is never glibc's MALLOC_* variables.
  const name = Object.keys(settings).find((n) => n !== 'jemalloc' && same(settings[n]!()));
  if (!name) throw new Error(`the Dockerfile sets ${JSON.stringify(image)}, which no allocator setting in bench/allocators.ts is; add one`);
  return name;
}
