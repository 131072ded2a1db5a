// The file source (`meshd serve --config-dir DIR`): every *.yaml / *.yml
// below DIR (symlinks followed), multi-document, watched. A scan stats every
// file and re-reads only those whose stat (device, inode, size, mtime, ctime)
// changed; the objects all files hold are then diffed against the previous
// scan into upserts and deletes. Scans run on fs events (a watch on every
// directory, which survives renames over a file and symlink swaps) and every
// `rescanMs` as a safety net for events a filesystem does not deliver. When
// the fs events of a burst all name files the last scan listed, only those
// files are stat'ed (an edit does not wait for a stat of every file); any
// other event (a new or vanished name, a directory, a symlink swap) lists
// the whole tree again.
// A file that stops parsing keeps serving the last valid version of every
// object it held until it parses again; its problems are reported.
// Delivering a scan costs what the files read again hold, not what the tree
// holds, unless the set of files changed or one of their objects is also
// defined in another file (then which definition wins depends on every file,
// and all are diffed again).
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { objectRef, refKey, refText, type ConfigSource, type ObjectRef, type SourceEvent, type SourceEventSink } from '../../model/kube.js';
import { knownKind, storedRef } from '../../model/kinds.js';
import { readManifestTree, type ManifestFile, type ManifestTree, type WatchedDir } from './manifestTree.js';
import { parseManifests, type ManifestProblem, type ParsedFile, type ParsedObject } from './parseManifests.js';

export interface FileSourceOptions {
  dir: string;
  logger: Logger;
  /** Quiet time that merges the burst of fs events an editor's save produces. */
  settleMs?: number;
  /** Period of the stat rescan that catches any change fs events missed; 0 turns it off. */
  rescanMs?: number;
  /** Watch for fs events (default true); without, only rescans see changes (offline analysis). */
  watch?: boolean;
  /** Called with the path (relative to dir) of every file read and parsed. */
  onRead?: (file: string) => void;
  /** Called after every scan with what it covered: the whole tree, or only these files (relative to dir). */
  onScan?: (scope: 'tree' | readonly string[]) => void;
}

/** What a scan covers: the whole tree, or only files the last tree listing named (absolute paths). */
type ScanScope = 'tree' | ReadonlySet<string>;

export const defaultRescanMs = 5_000;

/** A document of a file that did not parse, and what meshd serves instead. */
export interface FileProblem extends ManifestProblem {
  /** Objects whose last valid version the file still serves because it does not parse now. */
  kept: ObjectRef[];
}

interface Held {
  key: string;
  parsed: ParsedObject;
  serialized: string;
}

interface FileState {
  signature: string;
  /** Changed so recently that a same-size write within the timestamp granularity could look identical: read again next scan. */
  racy: boolean;
  held: Held[];
  problems: FileProblem[];
  /** Log lines this version of the file caused, so a rescan does not repeat them. */
  notices: Set<string>;
}

/**
 * Newer than this (from the scan's start), a file's stat cannot prove it was
 * not written again within the same timestamp tick (FAT's is 2 s).
 */
const racyMs = 2_000;

/** A held object's identity under the KindName that stores it (only known kinds are held). */
const heldRef = (object: ParsedObject['object']): ObjectRef => storedRef(object) ?? objectRef(object);

/** The identity a delete names: the held object's, in the namespace its key gives (where it was stored). */
const refOfHeld = (held: Held): ObjectRef => ({ ...heldRef(held.parsed.object), namespace: held.key.split('/')[1]! });

/** A file a scan of named files read again: what it held before (if it was read before) and now. */
interface Reread {
  before: FileState | undefined;
  after: FileState;
}

interface PublishTiming {
  scanStartedAt: number;
  eventAt: number | undefined;
  read: number;
}

/** A scan's debug figures: its timing, and how many objects it diffed against those delivered. */
type ScanFigures = PublishTiming & { diffed: number };

const signatureOf = (s: ManifestFile['stats']): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/** A log line given once per distinct key while its cause lasts. */
type Notice = [key: string, log: () => void];

/** Logs the notices not among those already given; returns the keys given now. */
function logNew(notices: readonly Notice[], given: ReadonlySet<string>): Set<string> {
  const now = new Set<string>();
  for (const [key, log] of notices) {
    if (!given.has(key) && !now.has(key)) log();
    now.add(key);
  }
  return now;
}

export class FileSource implements ConfigSource {
  private files = new Map<string, FileState>();
  private known = new Map<string, Held>();
  /** How many files hold each object key (more than one: duplicates, resolved by file order). */
  private holders = new Map<string, number>();
  private readonly watches = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private sink: SourceEventSink | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private queuedScope: 'tree' | Set<string> | undefined;
  /** Files named by fs events since the last scheduled scan, or 'tree' once an event needs a listing. */
  private eventScope: 'tree' | Set<string> | undefined;
  /** Absolute path of every file the last tree listing found, to its path relative to dir. */
  private listed = new Map<string, string>();
  private stopped = false;
  private isSynced = false;
  private currentProblems: FileProblem[] = [];
  private readonly problemListeners: Array<() => void> = [];
  /** Tree, watch and duplicate-object warnings already logged (a file's own notices live in its FileState). */
  private treeReported = new Set<string>();
  private duplicatesReported = new Set<string>();
  /** Monotonic ms of the first fs event not yet followed by a scan (debug timing). */
  private firstEventAt: number | undefined;

  constructor(private readonly options: FileSourceOptions) {}

  get synced(): boolean {
    return this.isSynced;
  }

  /** Documents that do not parse now, with what is kept in their place. */
  get problems(): readonly FileProblem[] {
    return this.currentProblems;
  }

  /** Called when the set of problems changes (they change the analysis without changing the model). */
  onProblemsChanged(listener: () => void): void {
    this.problemListeners.push(listener);
  }

  async start(sink: SourceEventSink): Promise<void> {
    const info = await stat(this.options.dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`--config-dir ${this.options.dir}: not a readable directory`);
    this.sink = sink;
    await this.rescan();
    this.isSynced = true;
    // Changes between the initial scan and the watches starting would otherwise be missed.
    if (this.options.watch !== false) this.scheduleRescan();
    const period = this.options.rescanMs ?? defaultRescanMs;
    if (period > 0) {
      this.interval = setInterval(() => void this.rescan(), period);
      this.interval.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.interval) clearInterval(this.interval);
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    await this.scanning;
  }

  /** Scans the whole tree now, after any scan in progress; resolves when its events are delivered. Never rejects. */
  rescan(): Promise<void> {
    return this.queueScan('tree');
  }

  /** Queues a scan after any in progress; scans queued meanwhile merge into one covering all of them. */
  private queueScan(scope: ScanScope): Promise<void> {
    if (scope === 'tree' || this.queuedScope === 'tree') this.queuedScope = 'tree';
    else this.queuedScope = new Set([...(this.queuedScope ?? []), ...scope]);
    this.queued ??= this.scanning.then(() => {
      const queuedScope = this.queuedScope ?? 'tree';
      this.queued = undefined;
      this.queuedScope = undefined;
      return this.stopped ? undefined : this.scan(queuedScope);
    });
    this.scanning = this.queued;
    return this.queued;
  }

  /** An fs event in a watched directory: a known file's name narrows the next scan to it; anything else lists the tree. */
  private onFsEvent(dir: string, filename: string | null): void {
    const file = filename ? path.join(dir, filename) : undefined;
    if (file === undefined || !this.listed.has(file)) this.eventScope = 'tree';
    else if (this.eventScope !== 'tree') this.eventScope = (this.eventScope ?? new Set<string>()).add(file);
    this.scheduleRescan();
  }

  private scheduleRescan(): void {
    if (this.stopped) return;
    this.firstEventAt ??= performance.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const scope = this.eventScope ?? 'tree';
      this.eventScope = undefined;
      void this.queueScan(scope);
    }, this.options.settleMs ?? 30);
  }

  private async scan(scope: ScanScope): Promise<void> {
    try {
      // A named file that vanished or is no longer a plain file: only a listing can say what happened.
      if (scope === 'tree' || !(await this.scanFiles(scope))) await this.scanOnce();
    } catch (error) {
      this.options.logger.error({ dir: this.options.dir, err: error }, `cannot scan config-dir ${this.options.dir}; retrying on the next change or rescan`);
    }
  }

  private async scanOnce(): Promise<void> {
    const { logger, dir } = this.options;
    const startedAt = Date.now();
    const scanStartedAt = performance.now();
    const eventAt = this.firstEventAt;
    this.firstEventAt = undefined;
    let tree: ManifestTree;
    try {
      tree = await readManifestTree(dir);
    } catch (error) {
      // Gone or unreadable: what it held keeps serving; said once, not on every rescan.
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.treeReported = logNew(
        [[`root:${reason}`, () => logger.error({ dir, err: error }, `cannot read config-dir ${dir}: ${reason}; serving what it held until it can be read`)]],
        this.treeReported,
      );
      return;
    }
    const treeNotices: Notice[] = tree.warnings.map((w) => [
      `tree:${w.path}:${w.reason}`,
      () => logger.warn({ path: w.path, reason: w.reason }, `config-dir: skipping ${w.path}: ${w.reason}`),
    ]);
    if (this.options.watch !== false && !this.stopped) treeNotices.push(...this.syncWatches(tree.dirs));
    this.treeReported = logNew(treeNotices, this.treeReported);
    this.listed = new Map(tree.files.map((f) => [f.path, f.relative]));

    const files = new Map<string, FileState>();
    const reread: Reread[] = [];
    for (const file of tree.files) {
      const previous = this.files.get(file.relative);
      const signature = signatureOf(file.stats);
      if (previous && previous.signature === signature && !previous.racy) {
        files.set(file.relative, previous);
        continue;
      }
      const state = await this.load(file, signature, startedAt, previous);
      if (!state) continue;
      files.set(file.relative, state);
      reread.push({ before: previous, after: state });
    }
    // The same files as before: only those read again can have changed what is served.
    const sameFiles = files.size === this.files.size && [...files.keys()].every((file) => this.files.has(file));
    this.files = files;
    this.options.onScan?.('tree');
    const timing = { scanStartedAt, eventAt, read: reread.length };
    if (sameFiles && reread.length === 0) return;
    if (!sameFiles || !this.publishReread(files, reread, timing)) this.publish(files, timing);
  }

  /**
   * Stats and reads only these files (fs events named nothing else). False
   * when one vanished or is no longer a plain file: a listing must follow.
   */
  private async scanFiles(paths: ReadonlySet<string>): Promise<boolean> {
    const startedAt = Date.now();
    const scanStartedAt = performance.now();
    const eventAt = this.firstEventAt;
    const checked: ManifestFile[] = [];
    for (const file of paths) {
      const relative = this.listed.get(file);
      const stats = await stat(file).catch(() => undefined);
      if (relative === undefined || !stats?.isFile()) return false;
      checked.push({ path: file, relative, stats });
    }
    const files = new Map(this.files);
    const reread: Reread[] = [];
    for (const file of checked) {
      const previous = files.get(file.relative);
      const signature = signatureOf(file.stats);
      if (previous && previous.signature === signature && !previous.racy) continue;
      const state = await this.load(file, signature, startedAt, previous);
      if (!state) return false; // removed between stat and read
      files.set(file.relative, state);
      reread.push({ before: previous, after: state });
    }
    this.files = files;
    this.firstEventAt = undefined;
    this.options.onScan?.(checked.map((f) => f.relative));
    const timing = { scanStartedAt, eventAt, read: reread.length };
    if (reread.length > 0 && !this.publishReread(files, reread, timing)) this.publish(files, timing);
    return true;
  }

  /**
   * Delivers what these re-read files changed, diffing only their objects;
   * false (nothing done) when one of their objects, before or now, is also
   * held by another file: only a diff of every file resolves duplicates.
   */
  private publishReread(files: ReadonlyMap<string, FileState>, reread: readonly Reread[], timing: PublishTiming): boolean {
    // The holder count of every key these files hold or held, after the scan.
    const counts = new Map<string, number>();
    const count = (key: string): number => counts.get(key) ?? this.holders.get(key) ?? 0;
    for (const { before, after } of reread) {
      for (const held of before?.held ?? []) counts.set(held.key, count(held.key) - 1);
      for (const held of after.held) counts.set(held.key, count(held.key) + 1);
    }
    for (const [key, now] of counts) if (now > 1 || (this.holders.get(key) ?? 0) > 1) return false;
    const events: SourceEvent[] = [];
    for (const { after } of reread) {
      for (const held of after.held) {
        if (this.known.get(held.key)?.serialized === held.serialized) continue;
        this.known.set(held.key, held);
        events.push({ type: 'upsert', object: held.parsed.object, origin: held.parsed.origin });
      }
    }
    for (const { before } of reread) {
      for (const held of before?.held ?? []) {
        if (counts.get(held.key) !== 0 || !this.known.delete(held.key)) continue;
        events.push({ type: 'delete', ref: refOfHeld(held) });
      }
    }
    for (const [key, now] of counts) {
      if (now === 0) this.holders.delete(key);
      else this.holders.set(key, now);
    }
    this.deliver(files, events, { ...timing, diffed: counts.size });
    return true;
  }

  /** Diffs the objects every file holds against those last delivered and delivers the difference. */
  private publish(files: ReadonlyMap<string, FileState>, timing: PublishTiming): void {
    const { logger } = this.options;

    const notices: Notice[] = [];
    const found = new Map<string, Held>();
    const holders = new Map<string, number>();
    for (const state of files.values()) {
      for (const held of state.held) {
        holders.set(held.key, (holders.get(held.key) ?? 0) + 1);
        const previous = found.get(held.key);
        if (previous) {
          const { origin } = held.parsed;
          const before = previous.parsed.origin;
          notices.push([
            `duplicate:${held.key}:${origin.file}:${origin.line}:${before.file}:${before.line}`,
            () =>
              logger.warn(
                { object: held.key, file: origin.file, line: origin.line, previousFile: before.file, previousLine: before.line },
                `duplicate object ${held.key}: ${origin.file}:${origin.line} replaces ${before.file}:${before.line}`,
              ),
          ]);
        }
        found.set(held.key, held);
      }
    }
    this.duplicatesReported = logNew(notices, this.duplicatesReported);

    const events: SourceEvent[] = [];
    for (const [key, entry] of found) {
      if (this.known.get(key)?.serialized !== entry.serialized) events.push({ type: 'upsert', object: entry.parsed.object, origin: entry.parsed.origin });
    }
    for (const [key, entry] of this.known) {
      if (!found.has(key)) events.push({ type: 'delete', ref: refOfHeld(entry) });
    }
    this.known = found;
    this.holders = holders;
    this.deliver(files, events, { ...timing, diffed: found.size });
  }

  /** Hands a scan's events to the sink, and reports the problems all files have now. */
  private deliver(files: ReadonlyMap<string, FileState>, events: SourceEvent[], figures: ScanFigures): void {
    const { logger } = this.options;
    if (events.length > 0 && !this.stopped) this.sink?.(events);
    logger.debug(
      {
        files: files.size,
        read: figures.read,
        diffed: figures.diffed,
        events: events.length,
        scanMs: Math.round(performance.now() - figures.scanStartedAt),
        sinceEventMs: figures.eventAt === undefined ? null : Math.round(performance.now() - figures.eventAt),
      },
      'config-dir scanned',
    );

    const problems = [...files.values()].flatMap((s) => s.problems);
    if (JSON.stringify(problems) !== JSON.stringify(this.currentProblems)) {
      this.currentProblems = problems;
      for (const listener of this.problemListeners) listener();
    }
  }

  /** Reads and parses one file; undefined when it vanished since it was listed. */
  private async load(file: ManifestFile, signature: string, scanStartedAt: number, previous: FileState | undefined): Promise<FileState | undefined> {
    const { logger } = this.options;
    const relative = file.relative;
    const racy = scanStartedAt - file.stats.mtimeMs < racyMs;
    let parsed: ParsedFile;
    try {
      const text = await readFile(file.path, 'utf8');
      this.options.onRead?.(relative);
      // Just emptied: most likely an in-place write (truncate, then write) under way. Its objects
      // stay until the file is read again; a file emptied on purpose is taken once it is no longer racy.
      if (text.length === 0 && racy && previous && previous.held.length > 0) return { ...previous, signature, racy };
      parsed = parseManifests(relative, text);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined; // removed between listing and reading; its removal is the next event
      this.options.onRead?.(relative);
      parsed = { objects: [], problems: [{ file: relative, line: 1, reason: `cannot read file: ${code ?? (error as Error).message}` }] };
    }
    const notices: Notice[] = [];
    const held: Held[] = [];
    for (const p of parsed.objects) {
      const { object, origin } = p;
      if (!knownKind(object.apiVersion, object.kind)) {
        notices.push([
          `unknown:${origin.line}:${object.apiVersion}:${object.kind}:${object.metadata.name}`,
          () =>
            logger.info(
              { file: origin.file, line: origin.line, apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name },
              `skipping unknown kind ${object.apiVersion} ${object.kind} in ${origin.file}:${origin.line}`,
            ),
        ]);
        continue;
      }
      held.push({ key: refKey({ ...heldRef(object), namespace: object.metadata.namespace || 'default' }), parsed: p, serialized: JSON.stringify(object) });
    }
    // Broken now: every object the last version held and this one cannot say keeps serving.
    const parsedKeys = new Set(held.map((h) => h.key));
    const keptHeld = parsed.problems.length > 0 ? (previous?.held ?? []).filter((h) => !parsedKeys.has(h.key)) : [];
    const kept = keptHeld.map(refOfHeld);
    const problems: FileProblem[] = parsed.problems.map((p) => ({ ...p, kept }));
    for (const p of problems) {
      const keptText = kept.length > 0 ? `; keeping the last valid version of ${kept.map(refText).join(', ')} until it parses` : '';
      notices.push([
        `malformed:${p.line}:${p.reason}:${kept.map(refText).join(',')}`,
        () =>
          logger.warn(
            { file: p.file, line: p.line, reason: p.reason, keptPreviousVersion: kept.length > 0, kept: kept.map(refText) },
            `${kept.length > 0 ? 'malformed' : 'skipping malformed'} document in ${p.file}:${p.line}: ${p.reason}${keptText}`,
          ),
      ]);
    }
    return { signature, racy, held: [...held, ...keptHeld], problems, notices: logNew(notices, previous?.notices ?? new Set()) };
  }

  /** One watch per directory (by device:inode), kept in step with the tree. */
  private syncWatches(dirs: readonly WatchedDir[]): Notice[] {
    const notices: Notice[] = [];
    const wanted = new Map(dirs.map((d) => [d.id, d.path]));
    for (const [id, w] of this.watches) {
      if (wanted.has(id)) continue;
      w.close();
      this.watches.delete(id);
    }
    for (const [id, dirPath] of wanted) {
      if (this.watches.has(id)) continue;
      try {
        const w = watch(dirPath, (_event, filename) => this.onFsEvent(dirPath, filename));
        w.on('error', (error) => {
          // Usually the directory went away; the next scan watches whatever replaced it.
          this.options.logger.debug({ dir: dirPath, err: error }, 'config-dir watch ended');
          w.close();
          if (this.watches.get(id) === w) this.watches.delete(id);
          this.eventScope = 'tree';
          this.scheduleRescan();
        });
        this.watches.set(id, w);
      } catch (error) {
        notices.push([
          `watch:${dirPath}`,
          () => this.options.logger.warn({ dir: dirPath, err: error }, `cannot watch ${dirPath}; its changes are seen by the periodic rescan only`),
        ]);
      }
    }
    return notices;
  }
}
