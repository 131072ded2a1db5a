import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile, mkdir, rename, symlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSource, type FileSourceOptions } from '../../src/sources/files/fileSource.js';
import type { SourceEvent } from '../../src/model/kube.js';
import { captureLogger, waitFor } from '../support/captureLogger.js';

const svc = (name: string, port = 80) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
  ports:
  - name: http
    port: ${port}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** `prepare` runs after the files are written and before the source starts (symlinks, mtimes). */
async function startSource(files: Record<string, string>, options: Partial<FileSourceOptions> = {}, prepare?: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshd-files-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  await prepare?.(dir);
  const { logger, lines } = captureLogger();
  const events: SourceEvent[] = [];
  const reads: string[] = [];
  const source = new FileSource({ dir, logger, settleMs: 10, onRead: (file) => reads.push(file), ...options });
  await source.start((batch) => events.push(...batch));
  cleanups.push(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, source, events, lines, reads };
}

/** Only fs events can make these tests pass: the safety-net rescan is an hour away. */
const eventsOnly = { rescanMs: 3_600_000 };

/** Write to a temporary file, rename it over the original: `sed -i`, most editors. */
async function atomicSave(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

const portOf = (events: SourceEvent[], name: string): number | undefined => {
  const last = events.filter((e) => e.type === 'upsert' && e.object.metadata.name === name).at(-1);
  return (last as { object: { spec: { ports: { port: number }[] } } } | undefined)?.object.spec.ports[0]!.port;
};

const virtualService = (subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: ${subset}
`;

const names = (events: SourceEvent[]) => events.map((e) => (e.type === 'upsert' ? `+${e.object.metadata.name}` : `-${e.ref.name}`));

describe('FileSource', () => {
  it('loads multi-document files below the directory with file and line origins', async () => {
    const { events, source } = await startSource({ 'a.yaml': `${svc('reviews')}---\n${svc('ratings')}`, 'nested/b.yml': svc('details') });
    expect(source.synced).toBe(true);
    expect(names(events).sort()).toEqual(['+details', '+ratings', '+reviews']);
    const ratings = events.find((e) => e.type === 'upsert' && e.object.metadata.name === 'ratings');
    expect(ratings).toMatchObject({ origin: { file: 'a.yaml', line: 11 } });
  });

  it('skips unknown kinds and malformed documents with file and reason, and loads the rest', async () => {
    const { events, lines } = await startSource({
      'mixed.yaml': `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\nkind: [unclosed\n---\n${svc('reviews')}---\napiVersion: v1\nkind: Service\nspec: {}\n`,
    });
    expect(names(events)).toEqual(['+reviews']);
    expect(lines.find((l) => l.kind === 'Widget')).toMatchObject({ file: 'mixed.yaml', line: 1 });
    const malformed = lines.filter((l) => String(l.msg).startsWith('skipping malformed'));
    expect(malformed.map((l) => [l.file, l.line])).toEqual([
      ['mixed.yaml', 6],
      ['mixed.yaml', 18],
    ]);
    expect(String(malformed[1]!.reason)).toBe('metadata is missing');
  });

  it('refuses to start on a directory that does not exist, naming it', async () => {
    const { logger } = captureLogger();
    const source = new FileSource({ dir: '/nonexistent/meshd-config', logger });
    await expect(source.start(() => undefined)).rejects.toThrow('--config-dir /nonexistent/meshd-config: not a readable directory');
  });

  it('watches: files added, changed and removed produce upserts and deletes', async () => {
    const { dir, events } = await startSource({ 'a.yaml': svc('reviews') });
    events.length = 0;
    await writeFile(path.join(dir, 'b.yaml'), svc('ratings'));
    await waitFor(() => names(events).includes('+ratings'), 'ratings added');
    await writeFile(path.join(dir, 'a.yaml'), svc('reviews', 9080));
    await waitFor(() => names(events).filter((n) => n === '+reviews').length === 1, 'reviews changed');
    const changed = events.find((e) => e.type === 'upsert' && e.object.metadata.name === 'reviews');
    expect((changed as { object: { spec: { ports: { port: number }[] } } }).object.spec.ports[0]!.port).toBe(9080);
    await unlink(path.join(dir, 'b.yaml'));
    await waitFor(() => names(events).includes('-ratings'), 'ratings removed');
    expect(events.find((e) => e.type === 'delete')).toEqual({ type: 'delete', ref: { kind: 'Service', namespace: 'shop', name: 'ratings' } });
  });

  it('an alias bomb is one problem at its file and line, not an exception: the source syncs and loads the rest', async () => {
    const bomb = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pay, namespace: shop}\nspec:\n  hosts: [&h payment-service]\n  gateways: [${Array(101).fill('*h').join(', ')}]\n`;
    const { events, source, lines } = await startSource({ 'bomb.yaml': `${svc('reviews')}---\n${bomb}`, 'good.yaml': svc('ratings') });
    expect(source.synced).toBe(true);
    expect(names(events).sort()).toEqual(['+ratings', '+reviews']);
    expect(source.problems).toEqual([{ file: 'bomb.yaml', line: 11, reason: expect.stringContaining('Excessive alias count') as string, kept: [] }]);
    expect(lines.filter((l) => l.file === 'bomb.yaml' && l.line === 11)).toHaveLength(1);
  });

  it('a file that stops parsing keeps the last valid version of every object it held until it parses again', async () => {
    const { dir, events, source, lines } = await startSource({ 'vs.yaml': `${virtualService('stable')}---\n${svc('reviews')}` }, eventsOnly);
    events.length = 0;
    const problemsChanged: number[] = [];
    source.onProblemsChanged(() => problemsChanged.push(source.problems.length));
    await writeFile(path.join(dir, 'vs.yaml'), `${virtualService('[stable')}---\n${svc('reviews', 9080)}`);
    await waitFor(() => source.problems.length === 1, 'the problem');
    // The document that still parses is updated; the broken one keeps its last valid version.
    expect(names(events)).toEqual(['+reviews']);
    expect(portOf(events, 'reviews')).toBe(9080);
    expect(problemsChanged).toEqual([1]);
    expect(source.problems[0]).toMatchObject({ file: 'vs.yaml', line: 1, kept: [{ kind: 'VirtualService', namespace: 'shop', name: 'reviews' }] });
    const logged = lines.find((l) => l.file === 'vs.yaml' && l.level === 40)!;
    expect(logged).toMatchObject({ line: 1, keptPreviousVersion: true, kept: ['VirtualService shop/reviews'] });
    expect(String(logged.msg)).toContain('keeping the last valid version of VirtualService shop/reviews');
    // A second broken save keeps the same last valid version.
    await writeFile(path.join(dir, 'vs.yaml'), `${virtualService('[stable')}---\n${svc('reviews', 9081)}`);
    await waitFor(() => portOf(events, 'reviews') === 9081, 'the second broken save');
    expect(source.problems[0]!.kept).toHaveLength(1);
    await writeFile(path.join(dir, 'vs.yaml'), `${virtualService('canary')}---\n${svc('reviews', 9081)}`);
    await waitFor(() => source.problems.length === 0, 'the file parses again');
    expect(events.some((e) => e.type === 'delete')).toBe(false);
    const vs = events.filter((e) => e.type === 'upsert' && e.object.kind === 'VirtualService');
    expect(JSON.stringify(vs.at(-1))).toContain('"subset":"canary"');
  });

  it('sees every edit after atomic saves (rename over the file), from fs events alone', async () => {
    const { dir, events } = await startSource({ 'a.yaml': svc('reviews', 1000) }, eventsOnly);
    for (let port = 1001; port <= 1006; port++) {
      await atomicSave(path.join(dir, 'a.yaml'), svc('reviews', port));
      await waitFor(() => portOf(events, 'reviews') === port, `atomic save ${port}`);
    }
    // An in-place write after the renames is seen too.
    await writeFile(path.join(dir, 'a.yaml'), svc('reviews', 2000));
    await waitFor(() => portOf(events, 'reviews') === 2000, 'in-place write after atomic saves');
  });

  it('a name created and deleted again and again produces an event every time', async () => {
    const { dir, events } = await startSource({ 'keep.yaml': svc('reviews') }, eventsOnly);
    for (let i = 1; i <= 25; i++) {
      await writeFile(path.join(dir, 'flip.yaml'), svc('ratings', i));
      await waitFor(() => portOf(events, 'ratings') === i, `created ${i}`);
      await unlink(path.join(dir, 'flip.yaml'));
      await waitFor(() => names(events).filter((n) => n === '-ratings').length === i, `deleted ${i}`);
    }
  });

  it('reads a ConfigMap volume and follows its ..data symlink swaps', async () => {
    const { dir, events } = await startSource({ '..2026_12_02_10_00_00.1/mesh.yaml': svc('reviews', 1) }, eventsOnly, async (d) => {
      await symlink('..2026_12_02_10_00_00.1', path.join(d, '..data'));
      await symlink('..data/mesh.yaml', path.join(d, 'mesh.yaml'));
    });
    expect(events).toEqual([expect.objectContaining({ type: 'upsert', origin: { file: 'mesh.yaml', line: 1 } })]);
    // kubelet's update: a new timestamped directory, `..data` swapped to it by rename, the old one removed.
    for (let version = 2; version <= 4; version++) {
      const next = `..2026_12_02_10_00_00.${version}`;
      await mkdir(path.join(dir, next));
      await writeFile(path.join(dir, next, 'mesh.yaml'), svc('reviews', version));
      await symlink(next, path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      await rm(path.join(dir, `..2026_12_02_10_00_00.${version - 1}`), { recursive: true });
      await waitFor(() => portOf(events, 'reviews') === version, `ConfigMap version ${version}`);
    }
    expect(events.every((e) => e.type === 'upsert' && e.origin?.file === 'mesh.yaml')).toBe(true);
  });

  it('reads symlinked files and directories, watches through them, and warns about a symlink loop', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'meshd-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    await mkdir(path.join(outside, 'shared'));
    await writeFile(path.join(outside, 'shared', 'ratings.yaml'), svc('ratings', 1));
    await writeFile(path.join(outside, 'details.yaml'), svc('details', 1));
    const { events, lines } = await startSource({ 'real/reviews.yaml': svc('reviews') }, eventsOnly, async (d) => {
      await symlink(path.join(outside, 'shared'), path.join(d, 'shared'));
      await symlink(path.join(outside, 'details.yaml'), path.join(d, 'details.yaml'));
      await symlink('..', path.join(d, 'real', 'loop'));
    });
    expect(names(events).sort()).toEqual(['+details', '+ratings', '+reviews']);
    expect(lines.find((l) => String(l.msg).includes('symlink loop'))).toMatchObject({
      level: 40,
      path: expect.stringContaining(path.join('real', 'loop')) as string,
    });
    await writeFile(path.join(outside, 'shared', 'ratings.yaml'), svc('ratings', 2));
    await waitFor(() => portOf(events, 'ratings') === 2, 'edit inside a symlinked directory');
    await writeFile(path.join(outside, 'details.yaml'), svc('details', 2));
    await waitFor(() => portOf(events, 'details') === 2, 'edit of a symlinked file');
  });

  it('the periodic rescan sees edits no fs event reported', async () => {
    const { dir, events } = await startSource({ 'a.yaml': svc('reviews', 1) }, { watch: false, rescanMs: 50 });
    await atomicSave(path.join(dir, 'a.yaml'), svc('reviews', 2));
    await waitFor(() => portOf(events, 'reviews') === 2, 'an atomic save');
    await writeFile(path.join(dir, 'a.yaml'), svc('reviews', 3));
    await waitFor(() => portOf(events, 'reviews') === 3, 'an in-place edit after it');
  });

  it('re-reads only the files whose stat changed, and new bytes with the same objects change nothing', async () => {
    const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`svc-${i}.yaml`, svc(`svc-${i}`)]));
    const anHourAgo = new Date(Date.now() - 3_600_000);
    const { dir, source, events, reads } = await startSource(files, eventsOnly, async (d) => {
      for (const name of Object.keys(files)) await utimes(path.join(d, name), anHourAgo, anHourAgo);
    });
    expect(reads).toHaveLength(200);
    await source.rescan();
    expect(reads).toHaveLength(200); // nothing changed: nothing read again
    reads.length = 0;
    events.length = 0;
    await writeFile(path.join(dir, 'svc-17.yaml'), svc('svc-17', 8080));
    await waitFor(() => events.length === 1, 'the edit');
    await source.rescan();
    expect(new Set(reads)).toEqual(new Set(['svc-17.yaml']));
    expect(names(events)).toEqual(['+svc-17']);
    // A comment changes the bytes, not the objects: read, and nothing emitted.
    reads.length = 0;
    await writeFile(path.join(dir, 'svc-17.yaml'), `# owned by the shop team\n${svc('svc-17', 8080)}`);
    await waitFor(() => reads.length > 0, 'the commented file read');
    await source.rescan();
    expect(new Set(reads)).toEqual(new Set(['svc-17.yaml']));
    expect(names(events)).toEqual(['+svc-17']);
  });

  it('an fs event naming only known files scans those files alone; a new name lists the tree again', async () => {
    const files = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`svc-${i}.yaml`, svc(`svc-${i}`)]));
    const scans: Array<'tree' | readonly string[]> = [];
    const { dir, events } = await startSource(files, { ...eventsOnly, onScan: (scope) => scans.push(scope) });
    // The start: the initial listing, and a second one for changes made before the watches existed.
    await waitFor(() => scans.length >= 2, 'the listing after the watches started');
    scans.length = 0;
    events.length = 0;
    await writeFile(path.join(dir, 'svc-17.yaml'), svc('svc-17', 8080));
    await waitFor(() => portOf(events, 'svc-17') === 8080, 'the in-place edit');
    expect(names(events)).toEqual(['+svc-17']);
    expect(scans.length).toBeGreaterThan(0);
    expect(scans.every((scope) => scope !== 'tree' && scope.length === 1 && scope[0] === 'svc-17.yaml')).toBe(true);

    scans.length = 0;
    await writeFile(path.join(dir, 'svc-50.yaml'), svc('svc-50'));
    await waitFor(() => names(events).includes('+svc-50'), 'the new file');
    expect(scans).toContain('tree');
    scans.length = 0;
    await unlink(path.join(dir, 'svc-3.yaml'));
    await waitFor(() => names(events).includes('-svc-3'), 'the removed file');
    expect(scans).toContain('tree');
  });

  it('a scan diffs only the objects of the files it read again; one defined in two files is resolved by every file, the later file winning', async () => {
    const files = {
      'a.yaml': `${svc('reviews', 80)}---\n${svc('ratings')}`,
      'b.yaml': svc('details'),
      'c.yaml': svc('reviews', 81),
      ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`svc-${i}.yaml`, svc(`svc-${i}`)])),
    };
    // Written an hour ago: a rescan reads again only the files edited since (racy: within the timestamp granularity).
    const anHourAgo = new Date(Date.now() - 3_600_000);
    const { dir, events, lines, source } = await startSource(files, eventsOnly, async (d) => {
      for (const name of Object.keys(files)) await utimes(path.join(d, name), anHourAgo, anHourAgo);
    });
    expect(portOf(events, 'reviews')).toBe(81);
    const lastScan = () => lines.filter((l) => l.msg === 'config-dir scanned').at(-1) as { diffed: number; read: number };
    const edit = async (file: string, text: string, what: string, done: () => boolean) => {
      events.length = 0;
      await writeFile(path.join(dir, file), text);
      await waitFor(done, what);
    };

    await edit('b.yaml', svc('details', 8080), 'the details edit', () => portOf(events, 'details') === 8080);
    expect(names(events)).toEqual(['+details']);
    expect(lastScan()).toMatchObject({ read: 1, diffed: 1 });

    await edit('b.yaml', svc('productpage'), 'details replaced', () => events.length === 2);
    expect(names(events)).toEqual(['+productpage', '-details']);
    expect(lastScan()).toMatchObject({ diffed: 2 });

    // c.yaml gives up its copy of reviews: a.yaml's serves again, which only a diff of every file can tell.
    await edit('c.yaml', svc('other'), 'the duplicate removed', () => names(events).includes('+other'));
    expect(names(events).sort()).toEqual(['+other', '+reviews']);
    expect(portOf(events, 'reviews')).toBe(80);
    expect(lastScan().diffed).toBe(54); // every object of every file

    await edit('a.yaml', svc('ratings', 9090), 'reviews removed', () => events.length === 2);
    expect(names(events)).toEqual(['+ratings', '-reviews']);
    expect(lastScan()).toMatchObject({ diffed: 2 });

    // A listing of the same files (the periodic rescan): only the three edited files are read and diffed.
    events.length = 0;
    await source.rescan();
    expect(lastScan()).toMatchObject({ read: 3, diffed: 3 });
    expect(events).toEqual([]);
    // A new file changes the set of files: every object is diffed.
    await writeFile(path.join(dir, 'd.yaml'), svc('added'));
    await source.rescan();
    expect(names(events)).toEqual(['+added']);
    expect(lastScan().diffed).toBe(54);
  });

  it('expands kind: List documents (kubectl get -o yaml) into their items', async () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${svc('reviews').trimEnd().split('\n').join('\n  ')}\n- ${svc('ratings').trimEnd().split('\n').join('\n  ')}\nmetadata: {resourceVersion: ""}\n`;
    const { events } = await startSource({ 'list.yaml': list });
    expect(names(events).sort()).toEqual(['+ratings', '+reviews']);
    expect(events.find((e) => e.type === 'upsert' && e.object.metadata.name === 'ratings')).toMatchObject({ origin: { file: 'list.yaml', line: 13 } });
  });
});
