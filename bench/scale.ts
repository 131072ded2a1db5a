// Scale benchmark of the real pipeline (issue 13): the real `bin/meshd serve`
// in its own process, on the benchmark mesh (bench/mesh.ts) given as files
// (--config-dir) or through a fake Kubernetes API server (--kubeconfig, changes
// arrive as watch events); N simulated Envoys in another process
// (bench/envoySim.ts); and the transport floor (bench/floorServer.ts): a bare
// grpc-js ADS server sending the same bytes to the same clients. The mesh
// stores and the changes are in bench/scaleChanges.ts.
//
// Reports initial sync time, meshd's peak and steady RSS, JS heap and CPU
// seconds, and "change -> last ACK" per scenario: from the moment the change
// is made (file written / API object written) to the moment the
// last proxy ACKs a response carrying it (recognised by content: the resource
// the change alters, holding the changed value), so the file watch, the API
// watch, the debounce and analysis are included, as a user experiences them.
//
//
// Results are never lost to a later failure: each run is reported as it finishes (and, with
// --out, written to a file after every run and every scenario); a scenario whose round times
// out is reported as such and the run goes on with the next scenario; a run that fails is
// reported with why, and the next run starts.
//
// Run: npm run bench -- scale [--proxies 100,500] [--services 1000] [--mode file|kube|both]
//        [--protocol sotw|delta|both] [--rounds 10] [--no-floor] [--profile-dir DIR] [--log-dir DIR]
//        [--allocators arena2-mmap,default,jemalloc] [--floor-allocator NAME]
//        [--scenarios 'VirtualService edit,Pod relabel'] [--heap-snapshot] [--out FILE.json]
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { defaultConfig } from '../src/meshd.js';
import type { KubeObject } from '../src/model/kube.js';
import type { Marker, Protocol, SimCommand, SimEvent } from './envoySim.js';
import type { FloorCommand, FloorEvent } from './floorServer.js';
import { heapSummaryMarkdown, summarizeHeapSnapshot, type HeapSummary } from './heapSnapshotSummary.js';
import { serviceObjects } from './mesh.js';
import { allocatorEnv, allocatorNames, shippedAllocator } from './allocators.js';
import { cpuSeconds, exitOf, jsMemory, memory, queuedResponsePeakMb, seconds, stopChild, track, waitMessage, WaitTimeout, type JsMemory } from './processes.js';
import { repoRoot } from './repoRoot.js';
import { fileStore, kubeStore, scenarios, withChanges, type Mode } from './scaleChanges.js';

export type { Mode };

export interface ScaleOptions {
  proxies: number[];
  services: number;
  modes: Mode[];
  protocols: Protocol[];
  rounds: number;
  floor: boolean;
  streamsPerChannel?: number;
  /** Per scenario: how long a round waits for the last ACK (default: scaled to the proxies, see timeoutsFor). */
  roundTimeoutsMs?: Partial<Record<string, number>>;
  /** Quiet time (no response to any proxy) awaited after the sync and after each change, so a change's tail is not billed to the next (default 300 ms, above the 100 ms debounce). */
  settleMs?: number;
  /** When set, meshd runs with V8's CPU and sampling heap profilers, writing *.cpuprofile and *.heapprofile here per run. */
  profileDir?: string;
  /**
   * Native allocator settings meshd runs under, one meshd run each (bench/allocators.ts; default: the one
   * the image ships, read from the Dockerfile). The floor replays the first run's recording.
   */
  allocators?: string[];
  /** The allocator setting the floor runs under (default: glibc's defaults, `default`). */
  floorAllocator?: string;
  /** The change scenarios to run (default: all), by name. */
  scenarios?: string[];
  /** When set, meshd logs at debug level (streams opened, with their peers) into one file per run here; the logging costs meshd CPU. */
  logDir?: string;
  /**
   * Take a V8 heap snapshot of meshd once the initial sync settled, and summarise it (bench/heapSnapshotSummary.ts).
   * The snapshot is kept in the run's --profile-dir folder when there is one, else deleted once summarised.
   */
  heapSnapshot?: boolean;
  /** Environment variables meshd runs with (istiod's, such as PILOT_ENABLE_EDS_DEBOUNCE=false), recorded with its runs; the floor does not get them. */
  meshdEnv?: Readonly<Record<string, string>>;
  /** `main` writes the runs here as JSON, and as Markdown next to it (.md), after every run and scenario. */
  out?: string;
  /** Where progress lines go (stderr by default). */
  progress?: (line: string) => void;
  /** Called with each run when it ends (`finished`), and with the run so far after its sync and after each scenario. */
  onRun?: (run: ScaleRun, finished: boolean) => void;
}

export interface ScenarioResult {
  scenario: string;
  /** Rounds asked for. */
  planned: number;
  /** Rounds finished: every proxy ACKed the change. */
  rounds: number;
  /** Set when a round timed out (`timed out after N of M rounds: ...`): the figures are over the rounds finished (NaN, null in JSON, when none). */
  timedOut?: string;
  /** The fewest proxies that ACKed a response carrying the change, over the rounds finished (a round waits for all). */
  ackedBy: number;
  /** change -> last ACK, ms, per round in the order made (a slow first round shows as such). */
  roundsMs: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The server's CPU per change made (a timed-out one included, until it timed out), ms. */
  cpuMsPerChange: number;
}

export interface ScaleResult {
  target: 'meshd' | 'floor';
  /** The native allocator setting the server ran under (bench/allocators.ts). */
  allocator: string;
  /** --meshd-env: what meshd ran with besides its defaults. */
  meshdEnv?: Readonly<Record<string, string>>;
  mode: Mode | '-';
  protocol: Protocol;
  proxies: number;
  services: number;
  channels: number;
  initialSyncMs: number;
  /** Bytes one proxy received in the initial sync. */
  syncBytesPerProxy: number;
  peakRssMb: number;
  steadyRssMb: number;
  /** V8 heap used after the initial sync (meshd: heapUsed on /debug/memz; the floor: its process.memoryUsage()). */
  heapUsedMb: number;
  /** meshd: the most response bytes waiting for the streams' transports at once, over the whole run (bounded by --xds-max-queued-bytes). */
  queuedPeakMb?: number;
  /** At the same moment: memory of C++ objects bound to JS objects, and of ArrayBuffers and Buffers among it (process.memoryUsage()). */
  externalMb: number;
  arrayBuffersMb: number;
  /** CPU seconds from process start to every proxy synced, and over all change rounds. */
  cpuSyncSeconds: number;
  cpuRoundsSeconds: number;
  /** CPU seconds the simulated Envoys used over the whole run: near one core's worth of the wall time means the simulator, not the server, set the pace. */
  simCpuSeconds: number;
  scenarios: ScenarioResult[];
  /** With --heap-snapshot (meshd only): where its heap went once the initial sync settled. */
  heap?: HeapReport;
  loadAverage: [number, number, number];
}

export interface HeapReport {
  /** meshd's /debug/memz just before the snapshot, which forces a full GC: what exceeds the snapshot's figures is memory V8 had not collected yet. */
  beforeMb: JsMemory;
  summary?: HeapSummary;
  /** The snapshot, when kept (with --profile-dir). */
  file?: string;
  /** Why there is no summary (the run goes on without it). */
  error?: string;
}

/** A run that stopped before its end: what it measured until then, and why it stopped. */
export interface FailedRun {
  target: ScaleResult['target'];
  allocator: string;
  meshdEnv?: Readonly<Record<string, string>>;
  mode: ScaleResult['mode'];
  protocol: Protocol;
  proxies: number;
  services: number;
  error: string;
  initialSyncMs?: number;
  scenarios: ScenarioResult[];
  heap?: HeapReport;
  loadAverage: [number, number, number];
}

export type ScaleRun = ScaleResult | FailedRun;

export const failedRun = (run: ScaleRun): run is FailedRun => 'error' in run;

/** The scenario names, in the order they run. */
export const scenarioNames: readonly string[] = scenarios(1).map((s) => s.name);

const loadAverage = (): [number, number, number] => os.loadavg().map((x) => Number(x.toFixed(2))) as [number, number, number];
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const distBench = (file: string): string => path.join(repoRoot, 'dist', 'bench', file);

const now = (): number => performance.timeOrigin + performance.now();

/** A run's --meshd-env, for meshd's runs only. */
const meshdEnvOf = (kind: ScaleResult['target'], options: ScaleOptions): { meshdEnv?: Readonly<Record<string, string>> } =>
  kind === 'meshd' && options.meshdEnv ? { meshdEnv: options.meshdEnv } : {};

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

let requestIds = 0;

class SimProcess {
  readonly child: ChildProcess;

  constructor() {
    this.child = track(fork(distBench('envoySim.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  send(command: SimCommand): void {
    this.child.send(command);
  }

  async request<T extends SimEvent>(
    command: SimCommand & { id: number },
    event: T['event'],
    what: string,
    timeoutMs: number,
    explain?: () => Promise<string>,
  ): Promise<T> {
    const reply = waitMessage<T>(this.child, what, timeoutMs, (m) => m.event === event && m.id === command.id, explain);
    this.send(command);
    return reply;
  }

  async stats(): Promise<Extract<SimEvent, { event: 'stats' }>> {
    return this.request<Extract<SimEvent, { event: 'stats' }>>({ cmd: 'stats', id: ++requestIds }, 'stats', 'simulated Envoy stats', 10_000);
  }

  /** Why a wait is not over: the proxies and markers still missing. */
  async explain(): Promise<string> {
    const id = ++requestIds;
    const progress = waitMessage<Extract<SimEvent, { event: 'progress' }>>(this.child, 'progress', 5_000, (m) => m.event === 'progress').catch(() => undefined);
    const stats = await this.request<Extract<SimEvent, { event: 'stats' }>>({ cmd: 'stats', id }, 'stats', 'simulated Envoy stats', 5_000);
    const p = await progress;
    return `${stats.responses} responses received, ${stats.streamErrors} stream errors${stats.lastError ? ` (last: ${stats.lastError})` : ''}${p ? `; ${p.waiting} proxy markers not ACKed, e.g. ${p.example}` : ''}`;
  }

  async quiet(quietMs: number, timeoutMs: number): Promise<void> {
    const id = ++requestIds;
    const r = await this.request<Extract<SimEvent, { event: 'quiet' }>>(
      { cmd: 'quiet', id, quietMs, timeoutMs },
      'quiet',
      `${quietMs} ms without responses`,
      timeoutMs + 5_000,
    );
    if (!r.ok) throw new Error(`waiting for ${quietMs} ms without responses: ${r.message}`);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    try {
      this.send({ cmd: 'close' });
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Children still running: killed if the driver exits without stopping them (an error, Ctrl-C, SIGTERM). */
interface MeshdChild {
  child: ChildProcess;
  pid: number;
  xdsPort: number;
  httpPort: number;
  exited: Promise<never>;
}

interface MeshdLaunch {
  /** Environment on top of the allocator's (--meshd-env). */
  env?: Readonly<Record<string, string>>;
  /** V8's CPU and sampling heap profiles, written when meshd exits (SIGTERM ends it cleanly). */
  profileDir?: string;
  logFile?: string;
  /** Heap snapshots, written on SIGUSR2. */
  snapshotDir?: string;
}

async function startMeshd(sourceArgs: string[], timeoutMs: number, allocator: string, launch: MeshdLaunch): Promise<MeshdChild> {
  const { profileDir, logFile, snapshotDir, env } = launch;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--heap-prof', '--heap-prof-dir', profileDir] : [];
  const snapshot = snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', snapshotDir] : [];
  const child = spawn(
    process.execPath,
    [
      ...profile,
      ...snapshot,
      path.join(repoRoot, 'bin', 'meshd'),
      'serve',
      '--host',
      '127.0.0.1',
      '--xds-port',
      '0',
      '--secure-port',
      '0',
      '--http-port',
      '0',
      '--webhook-port',
      '0',
      '--log-level',
      logFile ? 'debug' : 'info',
      ...sourceArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot, env: { ...process.env, ...allocatorEnv(allocator), ...env } },
  );
  track(child);
  const recent: string[] = [];
  const log = logFile ? createWriteStream(logFile) : undefined;
  child.once('exit', () => log?.end());
  const remember = (line: string): void => {
    log?.write(`${line}\n`);
    recent.push(line);
    if (recent.length > 20) recent.shift();
  };
  readline.createInterface({ input: child.stderr }).on('line', remember);
  const ports = await new Promise<{ xds: number; http: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for meshd to listen after ${seconds(timeoutMs)}; last lines: ${recent.join('\n')}`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`meshd exited (code ${code}) before listening; last lines: ${recent.join('\n')}`));
    });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l.msg === 'listening') {
          clearTimeout(timer);
          resolve({ xds: Number(l.xds), http: Number(l.http) });
        }
      } catch {
        // not a JSON log line
      }
    });
  }).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  const meshd = { child, pid: child.pid!, xdsPort: ports.xds, httpPort: ports.http, exited: exitOf(child, 'meshd', () => recent.join('\n')) };
  // Ready: configuration synced (and, in Kubernetes mode, the CA Secret created and read).
  const deadline = now() + timeoutMs;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${meshd.httpPort}/ready`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return meshd;
    if (now() > deadline) {
      await stopChild(child);
      throw new Error(`timed out waiting for meshd /ready after ${seconds(timeoutMs)}; last lines: ${recent.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A V8 heap snapshot of meshd, summarised; /debug/memz read just before it. V8 writes the snapshot on
 * meshd's main thread, after a full GC: once the file exists, an HTTP answer from meshd means it is complete.
 */
async function heapSnapshot(meshd: MeshdChild, dir: string, keep: boolean, timeoutMs: number): Promise<HeapReport> {
  const beforeMb = await jsMemory(meshd.httpPort);
  try {
    const earlier = new Set(readdirSync(dir));
    process.kill(meshd.pid, 'SIGUSR2');
    const deadline = now() + timeoutMs;
    let file: string | undefined;
    while (!(file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !earlier.has(f)))) {
      if (now() > deadline) throw new Error(`meshd wrote no heap snapshot into ${dir} within ${seconds(timeoutMs)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A connection kept alive across the pause may be reset: ask again until meshd answers.
    for (let answered = false; !answered;) {
      const status = await fetch(`http://127.0.0.1:${meshd.httpPort}/ready`, { signal: AbortSignal.timeout(timeoutMs) }).then(
        (r) => r.status,
        () => 0,
      );
      answered = status !== 0;
      if (!answered && now() > deadline) throw new Error(`meshd did not answer within ${seconds(timeoutMs)} of starting its heap snapshot`);
    }
    const full = path.join(dir, file);
    const summary = summarizeHeapSnapshot(full);
    if (!keep) rmSync(full, { force: true });
    return { beforeMb, summary, ...(keep ? { file: full } : {}) };
  } catch (err) {
    return { beforeMb, error: errorText(err) };
  }
}

// ------------------------------------------------------------ one run

interface Timeouts {
  startMs: number;
  syncMs: number;
  changeMs: number;
}

const timeoutsFor = (proxies: number, services: number): Timeouts => ({
  startMs: 60_000 + services * 60,
  syncMs: 60_000 + proxies * services * 0.25,
  // A new service sends every proxy the full CDS (3 MB at 1,000 services): at 500 proxies on a loaded machine, over 55 s.
  changeMs: 60_000 + proxies * 100,
});

/** What a meshd run hands the floor run: the recording and each change's markers. */
interface Replay {
  recording: string;
  phases: Array<{ scenario: string; phase: string; markers: Marker[] }>;
}

interface PlannedChange {
  /** Names the change in the recording: `scenario/round`. */
  phase: string;
  markers: Marker[];
  /** Makes the change (writes the file, the API object, or tells the floor to push). */
  make(): void;
}

interface Target {
  pid: number;
  /** Rejects if the server process exits. */
  exited: Promise<never>;
  address: string;
  plan(scenario: string, round: number): PlannedChange;
  jsMemory(): Promise<JsMemory>;
  /** The server's high-water mark of response bytes in flight, when it reports one. */
  queuedPeakMb?(): Promise<number>;
  /** With --heap-snapshot (meshd): its heap snapshot, summarised. */
  heapSnapshot?(timeoutMs: number): Promise<HeapReport>;
}

/** The scenarios a run measures, each with its rounds (the floor replays only the rounds meshd made). */
type ScenarioPlan = ReadonlyArray<{ name: string; rounds: number }>;

async function measure(
  target: Target,
  kind: ScaleResult['target'],
  allocator: string,
  mode: ScaleResult['mode'],
  protocol: Protocol,
  proxies: number,
  options: ScaleOptions,
  plan: ScenarioPlan,
  recordTo?: string,
): Promise<ScaleRun> {
  const timeouts = timeoutsFor(proxies, options.services);
  const perChannel = options.streamsPerChannel ?? 250;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settleMs = options.settleMs ?? 300;
  const label = `${kind} (${allocator}) ${mode} ${protocol} ${proxies} proxies`;
  // What the run measured so far, reported after each step: a later failure keeps it.
  const run = { target: kind, allocator, ...meshdEnvOf(kind, options), mode, protocol, proxies, services: options.services };
  const sofar: FailedRun = {
    ...run,
    error: 'unfinished: the benchmark stopped during this run',
    scenarios: [],
    loadAverage: loadAverage(),
  };
  const report = (): void => options.onRun?.({ ...sofar, scenarios: [...sofar.scenarios], loadAverage: loadAverage() }, false);
  const sim = new SimProcess();
  try {
    await waitMessage(sim.child, 'the Envoy simulator to start', 60_000, (m) => m.event === 'ready');
    const connectAt = now();
    const synced = waitMessage<Extract<SimEvent, { event: 'synced' }>>(
      sim.child,
      `${proxies} simulated Envoys to sync (${label})`,
      timeouts.syncMs,
      (m) => m.event === 'synced',
      () => sim.explain(),
    );
    sim.send({ cmd: 'connect', address: target.address, proxies, protocol, streamsPerChannel: perChannel });
    const syncedAt = (await Promise.race([synced, target.exited])).at;
    const cpuSync = cpuSeconds(target.pid);
    const afterSync = await sim.stats();
    sofar.initialSyncMs = Math.round(syncedAt - connectAt);
    report();
    await sim.quiet(settleMs, timeouts.changeMs);
    const steady = memory(target.pid);
    const js = await target.jsMemory();
    progress(`  ${label}: synced in ${((syncedAt - connectAt) / 1000).toFixed(1)} s`);
    if (target.heapSnapshot) {
      sofar.heap = await target.heapSnapshot(timeouts.changeMs);
      progress(`    heap snapshot: ${sofar.heap.error ?? `${sofar.heap.summary!.nodeCount} nodes summarised`}`);
      report();
    }

    const cpuBefore = cpuSeconds(target.pid);
    for (const { name, rounds } of plan) {
      const samples: number[] = [];
      let ackedBy = proxies;
      let timedOut: string | undefined;
      const cpuStart = cpuSeconds(target.pid);
      for (let round = 1; round <= rounds; round++) {
        const planned = target.plan(name, round);
        sim.send({ cmd: 'phase', name: planned.phase });
        const id = ++requestIds;
        await sim.request({ cmd: 'expect', id, markers: planned.markers }, 'expecting', 'the simulator to take the expectation', 10_000);
        const done = waitMessage<Extract<SimEvent, { event: 'done' }>>(
          sim.child,
          `every proxy to ACK ${name} round ${round} (${label})`,
          options.roundTimeoutsMs?.[name] ?? timeouts.changeMs,
          (m) => m.event === 'done' && m.id === id,
          () => sim.explain(),
        );
        const at = now();
        planned.make();
        try {
          const acked = await Promise.race([done, target.exited]);
          samples.push(acked.lastAckAt - at);
          ackedBy = Math.min(ackedBy, acked.proxies);
        } catch (err) {
          // A slow change: the next rounds would time out too. The processes are still up, so the
          // next scenario can run once the responses stopped (the simulator's next expectation replaces this one).
          if (!(err instanceof WaitTimeout)) throw err;
          timedOut = `timed out after ${samples.length} of ${rounds} rounds: ${err.message}`;
          break;
        }
        await sim.quiet(settleMs, timeouts.changeMs);
      }
      const cpu = cpuSeconds(target.pid) - cpuStart;
      const roundsMs = samples.map(Math.round);
      samples.sort((a, b) => a - b);
      const result: ScenarioResult = {
        scenario: name,
        planned: rounds,
        rounds: samples.length,
        ...(timedOut ? { timedOut } : {}),
        ackedBy: samples.length > 0 ? ackedBy : 0,
        roundsMs,
        p50Ms: Math.round(percentile(samples, 50)),
        p99Ms: Math.round(percentile(samples, 99)),
        maxMs: Math.round(samples[samples.length - 1] ?? NaN),
        cpuMsPerChange: Math.round((cpu * 1000) / (samples.length + (timedOut ? 1 : 0))),
      };
      sofar.scenarios.push(result);
      report();
      progress(`    ${name}: ${scenarioCell(result)} ms (p50 / p99 over ${result.rounds} rounds)${timedOut ? `; ${timedOut}` : ''}`);
      if (timedOut) await sim.quiet(settleMs, timeouts.changeMs);
    }
    const cpuRounds = cpuSeconds(target.pid) - cpuBefore;
    sim.send({ cmd: 'phase', name: 'after' });
    if (recordTo) await sim.request({ cmd: 'saveRecording', id: ++requestIds, path: recordTo }, 'saved', 'the recording to be written', 60_000);
    const end = memory(target.pid);
    const queuedPeakMb = await target.queuedPeakMb?.();
    if (queuedPeakMb !== undefined) progress(`    response bytes in flight peaked at ${queuedPeakMb} MB`);
    const simCpu = cpuSeconds(sim.child.pid!);
    return {
      ...run,
      channels: Math.ceil(proxies / perChannel),
      initialSyncMs: sofar.initialSyncMs,
      syncBytesPerProxy: Math.round(afterSync.bytes / proxies),
      peakRssMb: end.peakMb,
      steadyRssMb: steady.rssMb,
      heapUsedMb: js.heapUsedMb,
      externalMb: js.externalMb,
      arrayBuffersMb: js.arrayBuffersMb,
      ...(queuedPeakMb !== undefined ? { queuedPeakMb } : {}),
      cpuSyncSeconds: Number(cpuSync.toFixed(2)),
      cpuRoundsSeconds: Number(cpuRounds.toFixed(2)),
      simCpuSeconds: Number(simCpu.toFixed(2)),
      scenarios: sofar.scenarios,
      ...(sofar.heap ? { heap: sofar.heap } : {}),
      loadAverage: loadAverage(),
    };
  } catch (err) {
    // A server that died explains a failed request better than the request's own error (which may come first).
    const exit = await Promise.race([
      target.exited.then(
        () => undefined,
        (e: unknown) => errorText(e),
      ),
      new Promise<undefined>((resolve) => setTimeout(resolve, 1_000, undefined)),
    ]);
    const error = exit ?? errorText(err);
    progress(`  ${label}: failed: ${error}`);
    return { ...sofar, error, loadAverage: loadAverage() };
  } finally {
    await sim.close();
  }
}

/** meshd on the mesh (files or API server), measured; writes the recording the floor replays when asked. */
async function runMeshd(
  mode: Mode,
  allocator: string,
  protocol: Protocol,
  proxies: number,
  options: ScaleOptions,
  recordTo?: string,
): Promise<{ result: ScaleRun; replay: Replay['phases'] }> {
  const timeouts = timeoutsFor(proxies, options.services);
  const store = mode === 'file' ? fileStore(options.services, proxies) : await kubeStore(options.services, proxies);
  const replay: Replay['phases'] = [];
  let meshd: MeshdChild | undefined;
  let snapshotTemp: string | undefined;
  try {
    const variant = `${mode}-${protocol}-${proxies}${allocator === 'default' ? '' : `-${allocator}`}`;
    const profileDir = options.profileDir ? path.join(options.profileDir, variant) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const logFile = options.logDir ? path.join(options.logDir, `meshd-${variant}.log`) : undefined;
    if (options.logDir) mkdirSync(options.logDir, { recursive: true });
    if (options.heapSnapshot && !profileDir) snapshotTemp = mkdtempSync(path.join(os.tmpdir(), 'meshd-scale-heap-'));
    const snapshotDir = profileDir ?? snapshotTemp;
    meshd = await startMeshd(store.args, timeouts.startMs, allocator, {
      profileDir,
      logFile,
      ...(options.heapSnapshot ? { snapshotDir } : {}),
      ...(options.meshdEnv ? { env: options.meshdEnv } : {}),
    });
    (options.progress ?? ((line: string) => process.stderr.write(`${line}\n`)))(
      `  meshd (${allocator}) ${mode} ${protocol} ${proxies} proxies: started, pid ${meshd.pid}`,
    );
    const list = scenarios(options.services);
    const current = new Map<number, KubeObject[]>();
    const started = meshd;
    const target: Target = {
      pid: started.pid,
      exited: started.exited,
      address: `127.0.0.1:${started.xdsPort}`,
      jsMemory: () => jsMemory(started.httpPort),
      queuedPeakMb: () => queuedResponsePeakMb(started.httpPort),
      ...(options.heapSnapshot ? { heapSnapshot: (timeoutMs: number) => heapSnapshot(started, snapshotDir!, snapshotDir === profileDir, timeoutMs) } : {}),
      plan: (name, round) => {
        const change = list.find((s) => s.name === name)!.change(round);
        const phase = `${name}/${round}`;
        replay.push({ scenario: name, phase, markers: change.markers });
        return {
          phase,
          markers: change.markers,
          make: () => {
            const all = withChanges(current.get(change.service) ?? (change.service < options.services ? serviceObjects(change.service) : []), change.changed);
            current.set(change.service, all);
            store.write(change.service, all, change.changed);
          },
        };
      },
    };
    const result = await measure(
      target,
      'meshd',
      allocator,
      mode,
      protocol,
      proxies,
      options,
      list.filter((s) => !options.scenarios || options.scenarios.includes(s.name)).map((s) => ({ name: s.name, rounds: options.rounds })),
      recordTo,
    );
    return { result, replay };
  } finally {
    if (meshd) await stopChild(meshd.child);
    await store.close();
    if (snapshotTemp) rmSync(snapshotTemp, { recursive: true, force: true });
  }
}

/** The floor: the recorded bytes from a bare grpc-js server, the same changes replayed. */
async function runFloor(protocol: Protocol, proxies: number, options: ScaleOptions, replay: Replay): Promise<ScaleRun> {
  const allocator = options.floorAllocator ?? 'default';
  const child = track(
    fork(distBench('floorServer.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...allocatorEnv(allocator) } }),
  );
  try {
    const listening = waitMessage<Extract<FloorEvent, { event: 'listening' }>>(child, 'the floor server to listen', 60_000, (m) => m.event === 'listening');
    child.send({
      cmd: 'start',
      recording: replay.recording,
      maxStreamsPerConnection: defaultConfig.maxStreamsPerConnection,
      pushConcurrency: defaultConfig.pushConcurrency,
    } satisfies FloorCommand);
    const { port } = await listening;
    const target: Target = {
      pid: child.pid!,
      exited: exitOf(child, 'the floor server'),
      address: `127.0.0.1:${port}`,
      jsMemory: async () => {
        const id = ++requestIds;
        const reply = waitMessage<Extract<FloorEvent, { event: 'heap' }>>(child, "the floor's heap", 10_000, (m) => m.event === 'heap' && m.id === id);
        child.send({ cmd: 'heap', id } satisfies FloorCommand);
        const { usage } = await reply;
        const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
        return { heapUsedMb: mb(usage.heapUsed), externalMb: mb(usage.external), arrayBuffersMb: mb(usage.arrayBuffers) };
      },
      plan: (name, round) => {
        const phase = replay.phases.find((p) => p.phase === `${name}/${round}`);
        if (!phase) throw new Error(`the recording has no change ${name}/${round}`);
        return {
          phase: phase.phase,
          markers: phase.markers,
          make: () => child.send({ cmd: 'replay', id: ++requestIds, phase: phase.phase } satisfies FloorCommand),
        };
      },
    };
    // The rounds meshd made: fewer than asked when one timed out.
    const plan = [...new Set(replay.phases.map((p) => p.scenario))].map((name) => ({ name, rounds: replay.phases.filter((p) => p.scenario === name).length }));
    return await measure(target, 'floor', allocator, '-', protocol, proxies, options, plan);
  } finally {
    await stopChild(child, 5_000);
  }
}

/**
 * Every run: meshd per proxy count, protocol, mode and allocator, then the floor replaying the first
 * meshd run's recording. A run that fails is reported with why and the next one starts.
 */
export async function runScale(options: ScaleOptions): Promise<ScaleRun[]> {
  const runs: ScaleRun[] = [];
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const finish = (run: ScaleRun): void => {
    runs.push(run);
    options.onRun?.(run, true);
  };
  const failed = (target: ScaleResult['target'], allocator: string, mode: FailedRun['mode'], protocol: Protocol, proxies: number, err: unknown): FailedRun => {
    progress(`  ${target} (${allocator}) ${mode} ${protocol} ${proxies} proxies: failed: ${errorText(err)}`);
    return {
      target,
      allocator,
      ...meshdEnvOf(target, options),
      mode,
      protocol,
      proxies,
      services: options.services,
      error: errorText(err),
      scenarios: [],
      loadAverage: loadAverage(),
    };
  };
  // Checked before any run: an unknown name would otherwise be left out silently.
  if (options.scenarios) checkScenarios('scenarios', options.scenarios);
  const allocators = options.allocators ?? [shippedAllocator()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshd-scale-recording-'));
  try {
    for (const proxies of options.proxies) {
      for (const protocol of options.protocols) {
        let replay: Replay | undefined;
        for (const mode of options.modes) {
          for (const allocator of allocators) {
            const recordTo = options.floor && !replay ? path.join(dir, `${protocol}-${proxies}.json`) : undefined;
            try {
              const run = await runMeshd(mode, allocator, protocol, proxies, options, recordTo);
              finish(run.result);
              if (recordTo && !failedRun(run.result)) replay = { recording: recordTo, phases: run.replay };
            } catch (err) {
              finish(failed('meshd', allocator, mode, protocol, proxies, err));
            }
          }
        }
        if (!options.floor) continue;
        const floorAllocator = options.floorAllocator ?? 'default';
        if (!replay)
          finish(
            failed('floor', floorAllocator, '-', protocol, proxies, new Error('not run: no meshd run finished, so none recorded the responses to replay')),
          );
        else {
          try {
            finish(await runFloor(protocol, proxies, options, replay));
          } catch (err) {
            finish(failed('floor', floorAllocator, '-', protocol, proxies, err));
          }
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}

// ------------------------------------------------------------ output

/** `p50 / p99`, and how a timed-out scenario ended. */
export function scenarioCell(s: ScenarioResult): string {
  const figures = s.rounds > 0 ? `${s.p50Ms} / ${s.p99Ms}` : '-';
  return s.timedOut ? `${figures} (timed out after ${s.rounds} of ${s.planned} rounds)` : figures;
}

const tableCell = (text: string): string => text.replace(/\s+/g, ' ').replaceAll('|', '\\|');

/** The Markdown table for BENCHMARKS.md: one row per run, a failed run with what it measured and why it stopped. */
export function scaleTable(runs: readonly ScaleRun[]): string {
  const header = [
    'server',
    'allocator',
    'mode',
    'protocol',
    'proxies',
    'services',
    'initial sync (s)',
    'MB/proxy',
    'peak RSS (MB)',
    'steady RSS (MB)',
    'JS heap (MB)',
    'external / arrayBuffers (MB)',
    'CPU start+sync (s)',
    'CPU changes (s)',
    ...scenarioNames.map((s) => `${s} p50 / p99 (ms)`),
    'load avg (1 min)',
    'notes',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of runs) {
    const cell = (name: string): string => {
      const s = r.scenarios.find((x) => x.scenario === name);
      return s ? scenarioCell(s) : '-';
    };
    const sync = r.initialSyncMs === undefined ? '-' : (r.initialSyncMs / 1000).toFixed(1);
    const figures = failedRun(r)
      ? [sync, '-', '-', '-', '-', '-', '-', '-']
      : [
          sync,
          (r.syncBytesPerProxy / 2 ** 20).toFixed(2),
          r.peakRssMb,
          r.steadyRssMb,
          r.heapUsedMb,
          `${r.externalMb} / ${r.arrayBuffersMb}`,
          r.cpuSyncSeconds,
          r.cpuRoundsSeconds,
        ];
    const env = Object.entries(r.meshdEnv ?? {}).map(([k, v]) => `\`${k}=${v}\``);
    const stopped = failedRun(r) ? [tableCell(`stopped: ${r.error.length > 300 ? `${r.error.slice(0, 300)}...` : r.error}`)] : [];
    const notes = [...env, ...stopped].join('; ');
    lines.push(
      `| ${[r.target, r.allocator, r.mode, r.protocol, r.proxies, r.services, ...figures, ...scenarioNames.map(cell), r.loadAverage[0], notes].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** What the table's allocator column means. */
export function allocatorNote(): string {
  const shipped = shippedAllocator();
  const env = Object.entries(allocatorEnv(shipped))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `allocator: the native allocator setting the server ran under (bench/allocators.ts). meshd runs under the image's ` +
    `(\`${shipped}\`: ${env ? `\`${env}\`` : "glibc's defaults"}, from the Dockerfile) unless --allocators says otherwise; ` +
    `the floor under glibc's defaults (\`default\`) unless --floor-allocator says otherwise.`
  );
}

/** The heap summaries of the runs that took a snapshot, as Markdown. */
export function heapSections(runs: readonly ScaleRun[]): string {
  return runs
    .filter((r) => r.heap)
    .map((r) => {
      const heap = r.heap!;
      const before = `/debug/memz just before the snapshot: heapUsed ${heap.beforeMb.heapUsedMb} MB, external ${heap.beforeMb.externalMb} MB, arrayBuffers ${heap.beforeMb.arrayBuffersMb} MB (the snapshot's full GC frees what V8 had not collected yet: the difference to the figures below)`;
      const body = heap.summary ? heapSummaryMarkdown(heap.summary) : `no summary: ${heap.error}`;
      return [
        `### Heap of ${r.target} (${r.allocator}) ${r.mode} ${r.protocol} ${r.proxies} proxies x ${r.services} services, after the initial sync`,
        '',
        before,
        '',
        body,
      ].join('\n');
    })
    .join('\n\n');
}

export function parseScaleFlags(argv: readonly string[]): ScaleOptions {
  const options: ScaleOptions = {
    proxies: [100, 500, 1000, 2000],
    services: 1000,
    modes: ['file', 'kube'],
    protocols: ['sotw', 'delta'],
    rounds: 10,
    floor: true,
    allocators: [shippedAllocator()],
  };
  const value = (i: number): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  const positive = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} ${JSON.stringify(text)}: want a positive integer`);
    return n;
  };
  const choice = <T extends string>(flag: string, text: string, both: readonly T[]): T[] => {
    if (text === 'both') return [...both];
    if (!(both as readonly string[]).includes(text)) throw new Error(`${flag} ${JSON.stringify(text)}: want ${both.join(', ')} or both`);
    return [text as T];
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--proxies')
      options.proxies = value(i++)
        .split(',')
        .map((n) => positive(flag, n));
    else if (flag === '--services') options.services = positive(flag, value(i++));
    else if (flag === '--mode') options.modes = choice(flag, value(i++), ['file', 'kube'] as const);
    else if (flag === '--protocol') options.protocols = choice(flag, value(i++), ['sotw', 'delta'] as const);
    else if (flag === '--rounds') options.rounds = positive(flag, value(i++));
    else if (flag === '--floor') options.floor = true;
    else if (flag === '--no-floor') options.floor = false;
    else if (flag === '--profile-dir') options.profileDir = path.resolve(value(i++));
    else if (flag === '--log-dir') options.logDir = path.resolve(value(i++));
    else if (flag === '--allocators') options.allocators = allocatorNames(flag, value(i++));
    else if (flag === '--floor-allocator') {
      const names = allocatorNames(flag, value(i++));
      if (names.length !== 1) throw new Error(`${flag}: want one allocator setting, not ${names.length}`);
      options.floorAllocator = names[0]!;
    } else if (flag === '--scenarios') options.scenarios = parseScenarios(flag, value(i++));
    else if (flag === '--heap-snapshot') options.heapSnapshot = true;
    else if (flag === '--out') options.out = path.resolve(value(i++));
    else if (flag === '--meshd-env') {
      const [key, ...rest] = value(i++).split('=');
      if (!key || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || rest.length === 0) throw new Error(`${flag} ${JSON.stringify(argv[i])}: want NAME=VALUE`);
      options.meshdEnv = { ...options.meshdEnv, [key]: rest.join('=') };
    } else
      throw new Error(
        `unknown flag ${flag}; flags: --proxies N[,N...] --services N --mode file|kube|both --protocol sotw|delta|both --rounds R --floor|--no-floor --profile-dir DIR --log-dir DIR --allocators NAME[,NAME...] --floor-allocator NAME --scenarios NAME[,NAME...] --heap-snapshot --meshd-env NAME=VALUE --out FILE`,
      );
  }
  return options;
}

/** `--scenarios a,b`: known names (spaces around commas allowed), each once. */
function parseScenarios(flag: string, text: string): string[] {
  const names = text.split(',').map((name) => name.trim());
  if (names.includes('')) throw new Error(`${flag} ${JSON.stringify(text)}: an empty scenario name; ${wantScenarios}`);
  checkScenarios(flag, names);
  return names;
}

const wantScenarios = `want one or more of ${scenarioNames.map((n) => JSON.stringify(n)).join(', ')}, separated by commas`;

/** Fails, naming `where`, on a scenario name that is none of the scenarios or is named twice. */
function checkScenarios(where: string, names: readonly string[]): void {
  const unknown = names.find((name) => !scenarioNames.includes(name));
  if (unknown !== undefined) throw new Error(`${where}: unknown scenario ${JSON.stringify(unknown)}; ${wantScenarios}`);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new Error(`${where}: scenario ${JSON.stringify(twice)} named twice`);
}

/** The report so far: JSON to `file`, Markdown next to it; written whole, then renamed, so a kill never leaves half a file. */
export function writeScaleReport(file: string, about: Record<string, unknown>, runs: readonly ScaleRun[]): void {
  const write = (target: string, text: string): void => {
    writeFileSync(`${target}.tmp`, text);
    renameSync(`${target}.tmp`, target);
  };
  mkdirSync(path.dirname(file), { recursive: true });
  write(file, `${JSON.stringify({ ...about, runs }, null, 2)}\n`);
  const heap = heapSections(runs);
  write(
    `${file.replace(/\.json$/, '')}.md`,
    [
      `## Scale: the real pipeline (issue 13)`,
      '',
      '```json',
      JSON.stringify(about),
      '```',
      '',
      scaleTable(runs),
      '',
      allocatorNote(),
      ...(heap ? ['', heap] : []),
      '',
    ].join('\n'),
  );
}

/**
 * `npm run bench -- scale [flags]`: as each run ends, its JSON line and table row (scenario results go to stderr
 * as they end); at the end the whole table. With --out FILE the report is rewritten after every run and scenario.
 * Exits non-zero when a run failed.
 */
export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const options = parseScaleFlags(argv);
  // Interrupted: exit through 'exit', which kills the children still running (the --out file has the runs so far).
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  const about = {
    command: ['npm', 'run', 'bench', '--', 'scale', ...argv.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a))].join(' '),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    loadAverageAtStart: loadAverage(),
  };
  console.log(`\n## Scale: the real pipeline (issue 13), ${options.services} services\n`);
  console.log(`load average at start: ${about.loadAverageAtStart.join(' ')}`);
  const finished: ScaleRun[] = [];
  // A report that cannot be written is said so; it never stops a run.
  const save = (running?: ScaleRun): void => {
    if (!options.out) return;
    try {
      writeScaleReport(options.out, about, running ? [...finished, running] : finished);
    } catch (err) {
      process.stderr.write(`could not write ${options.out}: ${errorText(err)}\n`);
    }
  };
  save();
  const runs = await runScale({
    ...options,
    progress: (line) => process.stderr.write(`${line}\n`),
    onRun: (run, done) => {
      if (!done) return save(run);
      finished.push(run);
      save();
      console.log(JSON.stringify(run));
      console.log(scaleTable([run]).split('\n')[2]);
      if (run.heap) console.log(`\n${heapSections([run])}\n`);
    },
  });
  console.log(`\nload average at end: ${loadAverage().join(' ')}\n`);
  console.log(scaleTable(runs));
  console.log(`\n${allocatorNote()}`);
  if (options.out) console.log(`\nwritten to ${options.out} and ${options.out.replace(/\.json$/, '')}.md`);
  const failures = runs.filter(failedRun);
  if (failures.length > 0) throw new Error(`${failures.length} of ${runs.length} runs stopped early (see the notes column)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
