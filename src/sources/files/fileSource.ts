// The file source (`meshd serve --config-dir DIR`): every *.yaml / *.yml
// below DIR, multi-document, watched. Each rescan diffs the objects found
// against the previous scan and emits upserts for new or changed objects and
// deletes for objects no file holds any more.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { objectRef, refKey, type ConfigSource, type SourceEvent, type SourceEventSink } from '../../model/kube.js';
import { knownKind } from '../../model/kinds.js';
import { parseManifests, type ParsedObject } from './parseManifests.js';

export interface FileSourceOptions {
  dir: string;
  logger: Logger;
  /** Quiet time that merges the burst of fs events an editor's save produces. */
  settleMs?: number;
}

interface Known {
  parsed: ParsedObject;
  serialized: string;
}

const isManifest = (name: string): boolean => name.endsWith('.yaml') || name.endsWith('.yml');

export async function listManifests(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && isManifest(e.name))
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

export class FileSource implements ConfigSource {
  private known = new Map<string, Known>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sink: SourceEventSink | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = false;
  private isSynced = false;
  /** Problems already reported, so an unchanged broken file is not reported on every rescan. */
  private reported = new Set<string>();

  constructor(private readonly options: FileSourceOptions) {}

  get synced(): boolean {
    return this.isSynced;
  }

  async start(sink: SourceEventSink): Promise<void> {
    const info = await stat(this.options.dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`--config-dir ${this.options.dir}: not a readable directory`);
    this.sink = sink;
    await this.scan();
    this.isSynced = true;
    this.watcher = watch(this.options.dir, { recursive: true }, () => this.scheduleRescan());
    this.watcher.on('error', (error) => this.options.logger.warn({ dir: this.options.dir, err: error }, 'config-dir watch error'));
    // Changes between the initial scan and the watch starting would otherwise be missed.
    this.scheduleRescan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.scanning;
  }

  /** Rescans now (also used on SIGHUP-like triggers); resolves when the events are delivered. */
  rescan(): Promise<void> {
    this.scanning = this.scanning.then(() => (this.stopped ? undefined : this.scan()));
    return this.scanning;
  }

  private scheduleRescan(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.rescan();
    }, this.options.settleMs ?? 30);
  }

  private async scan(): Promise<void> {
    const { logger, dir } = this.options;
    let files: string[];
    try {
      files = await listManifests(dir);
    } catch (error) {
      logger.error({ dir, err: error }, `cannot read config-dir ${dir}`);
      return;
    }
    const found = new Map<string, Known>();
    const reportedNow = new Set<string>();
    const report = (key: string, log: () => void): void => {
      reportedNow.add(key);
      if (!this.reported.has(key)) log();
    };
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // removed between listing and reading; the next event rescans
      }
      const { objects, problems } = parseManifests(path.relative(dir, file), text);
      for (const p of problems) {
        report(`malformed:${p.file}:${p.line}:${p.reason}`, () =>
          logger.warn({ file: p.file, line: p.line, reason: p.reason }, `skipping malformed document in ${p.file}:${p.line}: ${p.reason}`),
        );
      }
      for (const parsed of objects) {
        const { object, origin } = parsed;
        if (!knownKind(object.apiVersion, object.kind)) {
          report(`unknown:${origin.file}:${object.apiVersion}:${object.kind}:${object.metadata.name}`, () =>
            logger.info(
              { file: origin.file, line: origin.line, apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name },
              `skipping unknown kind ${object.apiVersion} ${object.kind} in ${origin.file}:${origin.line}`,
            ),
          );
          continue;
        }
        const key = refKey({ ...objectRef(object), namespace: object.metadata.namespace || 'default' });
        const previous = found.get(key);
        if (previous) {
          logger.warn(
            { object: key, file: origin.file, line: origin.line, previousFile: previous.parsed.origin.file, previousLine: previous.parsed.origin.line },
            `duplicate object ${key}: ${origin.file}:${origin.line} replaces ${previous.parsed.origin.file}:${previous.parsed.origin.line}`,
          );
        }
        found.set(key, { parsed, serialized: JSON.stringify(object) });
      }
    }
    this.reported = reportedNow;
    const events: SourceEvent[] = [];
    for (const [key, entry] of found) {
      if (this.known.get(key)?.serialized !== entry.serialized) {
        events.push({ type: 'upsert', object: entry.parsed.object, origin: entry.parsed.origin });
      }
    }
    for (const [key, entry] of this.known) {
      if (!found.has(key)) events.push({ type: 'delete', ref: { ...objectRef(entry.parsed.object), namespace: key.split('/')[1]! } });
    }
    this.known = found;
    if (events.length > 0 && !this.stopped) this.sink?.(events);
  }
}
