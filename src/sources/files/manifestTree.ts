// Lists the *.yaml / *.yml files below a directory, following symlinks (a
// symlinked file, a symlinked directory, a Kubernetes ConfigMap volume's
// `..data -> ..2026_12_02_...` swap), with the stat each file had when listed
// and the directories to watch. A file reached by several paths is listed once,
// under the path a person would name (a ConfigMap's `app.yaml`, not its
// `..2026_12_02_.../app.yaml`). A symlink loop is a warning, never a hang.
import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export interface ManifestFile {
  path: string;
  /** Path below the root, as messages name the file. */
  relative: string;
  stats: Stats;
}

export interface WatchedDir {
  path: string;
  /** device:inode, so a directory replaced under the same name is watched anew. */
  id: string;
}

export interface ManifestTree {
  files: ManifestFile[];
  dirs: WatchedDir[];
  warnings: Array<{ path: string; reason: string }>;
}

export const isManifest = (name: string): boolean => name.endsWith('.yaml') || name.endsWith('.yml');

const idOf = (s: Stats): string => `${s.dev}:${s.ino}`;
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A path through kubelet's hidden `..`-prefixed entries loses against the visible one. */
const hiddenSegments = (relative: string): number => relative.split(path.sep).filter((s) => s.startsWith('..')).length;
function preferred(a: ManifestFile, b: ManifestFile): ManifestFile {
  const order = hiddenSegments(a.relative) - hiddenSegments(b.relative) || a.relative.length - b.relative.length || byCodeUnits(a.relative, b.relative);
  return order <= 0 ? a : b;
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** Throws only when the root itself cannot be read. */
export async function readManifestTree(root: string): Promise<ManifestTree> {
  const files = new Map<string, ManifestFile>();
  const dirs = new Map<string, WatchedDir>();
  const warnings: ManifestTree['warnings'] = [];

  const addFile = async (file: ManifestFile, symlinked: boolean): Promise<void> => {
    const id = idOf(file.stats);
    const existing = files.get(id);
    files.set(id, existing ? preferred(existing, file) : file);
    if (!symlinked) return;
    // Edits to a symlink's target outside the tree show up in the target's directory only.
    const dir = path.dirname(await realpath(file.path).catch(() => file.path));
    const dirStats = await stat(dir).catch(() => undefined);
    if (dirStats && !dirs.has(idOf(dirStats))) dirs.set(idOf(dirStats), { path: dir, id: idOf(dirStats) });
  };

  const walk = async (dir: string, relative: string, dirStats: Stats, ancestors: ReadonlySet<string>): Promise<void> => {
    dirs.set(idOf(dirStats), { path: dir, id: idOf(dirStats) });
    const inside = new Set(ancestors).add(idOf(dirStats));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (relative === '') throw error;
      warnings.push({ path: dir, reason: `cannot read directory: ${errorCode(error) ?? (error as Error).message}` });
      return;
    }
    entries.sort((a, b) => byCodeUnits(a.name, b.name));
    const candidates = entries.filter((e) => e.isDirectory() || e.isSymbolicLink() || (e.isFile() && isManifest(e.name)));
    // Stat a directory's entries together (stat follows symlinks); walk them in name order.
    const stated = await Promise.all(
      candidates.map((e) =>
        stat(path.join(dir, e.name)).then(
          (s) => s,
          (error: unknown) => errorCode(error) ?? 'error',
        ),
      ),
    );
    for (const [i, entry] of candidates.entries()) {
      const full = path.join(dir, entry.name);
      const rel = relative ? path.join(relative, entry.name) : entry.name;
      const stats = stated[i]!;
      if (typeof stats === 'string') {
        // Gone since readdir, or a dangling link (a ConfigMap key being removed): nothing to read.
        if (stats === 'ELOOP') warnings.push({ path: full, reason: 'symlink loop' });
        continue;
      }
      if (stats.isDirectory()) {
        if (inside.has(idOf(stats))) warnings.push({ path: full, reason: 'symlink loop: points to a directory that contains it' });
        else if (!dirs.has(idOf(stats))) await walk(full, rel, stats, inside); // else reached by another path already
      } else if (stats.isFile() && isManifest(entry.name)) {
        await addFile({ path: full, relative: rel, stats }, entry.isSymbolicLink());
      }
    }
  };

  await walk(root, '', await stat(root), new Set());
  return {
    files: [...files.values()].sort((a, b) => byCodeUnits(a.relative, b.relative)),
    dirs: [...dirs.values()],
    warnings,
  };
}
