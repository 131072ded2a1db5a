// The unit project stays pure: no file in it, nor a test helper (test/, bench/) it imports, starts a child
// process, a network server or an API server. A static check of the sources, so it holds before anything runs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unitTests } from './unitTests.js';

const root = path.resolve(import.meta.dirname, '..');
const starts =
  /node:child_process|\bcreateServer\(|\.listen\(|bindGrpcServer|new grpc\.Server|\bstartMeshd\(|startFileMeshd|spawnMeshd|new FakeKubeApi|startRealKubeApi|realKubeApi\.js|freePort/;

function testFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(`${dir}/${e.name}`) : e.name.endsWith('.test.ts') ? [`${dir}/${e.name}`] : [],
  );
}

/** `dir/**\/*.test.ts` covers a folder; anything else names one file. */
function inUnitProject(file: string): boolean {
  return unitTests.some((p) => (p.endsWith('/**/*.test.ts') ? file.startsWith(p.slice(0, -'**/*.test.ts'.length)) : file === p));
}

/** The first forbidden use in `file` or a test/bench module it imports, as `file: match`; undefined when pure. */
function firstStart(file: string, seen = new Set<string>()): string | undefined {
  if (seen.has(file)) return undefined;
  seen.add(file);
  const source = readFileSync(path.join(root, file), 'utf8');
  const hit = starts.exec(source);
  if (hit) return `${file}: ${hit[0]}`;
  for (const [, spec] of source.matchAll(/from '(\.[^']+)'/g)) {
    const target = path.posix.join(path.posix.dirname(file), spec!.replace(/\.js$/, '.ts'));
    // src/ modules define servers without starting them; what a test calls is in the test itself.
    if (target.startsWith('src/') || !existsSync(path.join(root, target))) continue;
    const found = firstStart(target, seen);
    if (found) return found;
  }
  return undefined;
}

describe('the unit test project', () => {
  // This file names the forbidden calls in its pattern, so it is left out of its own check.
  const unit = testFiles('test').filter((f) => inUnitProject(f) && f !== 'test/unitProject.test.ts');

  it('lists files that exist', () => {
    for (const p of unitTests.filter((q) => !q.includes('*'))) expect(existsSync(path.join(root, p)), p).toBe(true);
    expect(unit.length).toBeGreaterThan(20);
  });

  it('starts no child process, network server or API server', () => {
    expect(unit.map((f) => [f, firstStart(f)]).filter(([, hit]) => hit !== undefined)).toEqual([]);
  });

  it('would catch a test that does', () => {
    expect(firstStart('test/cli/meshdServe.test.ts')).toBeDefined();
    expect(firstStart('test/push/pipeline.test.ts')).toBeDefined();
  });
});
