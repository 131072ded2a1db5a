// Where the repository is, for benchmarks that start bin/meshd or read its files, whether they run
// from bench/ (vitest) or dist/bench/ (npm run bench).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (where bin/meshd is), from bench/ or dist/bench/. */
export const repoRoot = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'bin', 'meshd'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (bin/meshd) above bench/');
    dir = up;
  }
  return dir;
})();
