// Imports in src/ point one way: no import circles, and no layer importing one above it (src/model must not
// import push, xds, security or serve; src/push must not import xds). Today's known violations are listed below;
// the lists only shrink: an entry that no longer occurs fails too, so whoever fixes one removes it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Circles still to break, each as its modules sorted. */
const knownCircles: readonly string[] = [];

/** Layer violations still to move, as `importer -> imported`. */
const knownLayerViolations: readonly string[] = [
  // Validators and the fail-closed AuthorizationPolicy stand-in: to be registered from above.
  'src/model/kinds.ts -> src/security/validation.ts',
  'src/model/meshModel.ts -> src/security/objects.ts',
  // The push layer names xDS types and chooses each proxy's generator: to move to the xDS server or serve.
  'src/push/changes.ts -> src/xds/resource.ts',
  'src/push/changes.ts -> src/xds/server/types.ts',
  'src/push/pipeline.ts -> src/xds/gen/gateway/generator.ts',
  'src/push/pipeline.ts -> src/xds/gen/grpc/generator.ts',
  'src/push/pipeline.ts -> src/xds/gen/sidecar/generator.ts',
  'src/push/pipeline.ts -> src/xds/resource.ts',
  'src/push/pipeline.ts -> src/xds/server/types.ts',
];

const forbidden: ReadonlyArray<[from: string, to: readonly string[]]> = [
  ['src/model/', ['src/push/', 'src/xds/', 'src/security/', 'src/serve/']],
  ['src/push/', ['src/xds/']],
];

const root = path.resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
  );
}

/** Every module a file imports (static, type-only, re-exports and `import()`), as repository paths. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true);
  return importedFiles
    .filter((f) => f.fileName.startsWith('.'))
    .map((f) => path.posix.join(path.posix.dirname(file), f.fileName.replace(/\.js$/, '.ts')))
    .filter((f) => existsSync(path.join(root, f)));
}

/** Strongly connected components of more than one module (Tarjan). */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const members: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      members.push(w);
    } while (w !== v);
    if (members.length > 1) found.push(members.sort().join(' '));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort();
}

function layerViolations(graph: ReadonlyMap<string, readonly string[]>): string[] {
  return [...graph].flatMap(([file, imports]) =>
    forbidden.flatMap(([from, to]) => (file.startsWith(from) ? imports.filter((i) => to.some((t) => i.startsWith(t))).map((i) => `${file} -> ${i}`) : [])),
  );
}

describe('imports in src/', () => {
  const graph = new Map(sourceFiles('src').map((f) => [f, importsOf(f)]));

  it('form no circle beyond the known ones', () => {
    expect(circles(graph)).toEqual([...knownCircles].sort());
  });

  it('point down the layers, beyond the known violations', () => {
    expect(layerViolations(graph).sort()).toEqual([...knownLayerViolations].sort());
  });

  it('would catch a circle, a dynamic import and a layer violation', () => {
    const made = new Map([
      ['src/model/a.ts', ['src/push/b.ts']],
      ['src/push/b.ts', ['src/xds/c.ts']],
      ['src/xds/c.ts', ['src/model/a.ts']],
    ]);
    expect(circles(made)).toEqual(['src/model/a.ts src/push/b.ts src/xds/c.ts']);
    expect(layerViolations(made)).toEqual(['src/model/a.ts -> src/push/b.ts', 'src/push/b.ts -> src/xds/c.ts']);
    expect(graph.get('src/serve/index.ts')).toContain('src/serve/kubeMode.ts');
  });
});
