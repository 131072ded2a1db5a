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
// Run: npm run bench -- scale [--proxies 100,500] [--services 1000] [--mode file|kube|both]
//        [--protocol sotw|delta|both] [--rounds 10] [--no-floor] [--profile-dir DIR] [--log-dir DIR]
//        [--allocators default,arena2,jemalloc] [--scenarios 'VirtualService edit,Pod relabel']
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultConfig } from '../src/meshd.js';
import type { KubeObject } from '../src/model/kube.js';
import type { Marker, Protocol, SimCommand, SimEvent } from './envoySim.js';
import type { FloorCommand, FloorEvent } from './floorServer.js';
import { serviceObjects } from './mesh.js';
import { allocatorEnv, allocatorNames } from './allocators.js';
import { cpuSeconds, exitOf, jsMemory, memory, queuedResponsePeakMb, seconds, stopChild, track, waitMessage, type JsMemory } from './processes.js';
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
  /** Quiet time (no response to any proxy) awaited after the sync and after each change, so a change's tail is not billed to the next (default 300 ms, above the 100 ms debounce). */
  settleMs?: number;
  /** When set, meshd runs with V8's CPU and sampling heap profilers, writing *.cpuprofile and *.heapprofile here per run. */
  profileDir?: string;
  /**
   * Native allocator settings meshd runs under, one meshd run each (bench/allocators.ts; default: glibc's
   * defaults only). The floor replays the first run's recording, under the default allocator.
   */
  allocators?: string[];
  /** The change scenarios to run (default: all), by name. */
  scenarios?: string[];
  /** When set, meshd logs at debug level (streams opened, with their peers) into one file per run here; the logging costs meshd CPU. */
  logDir?: string;
  /** Where progress lines go (stderr by default). */
  progress?: (line: string) => void;
}

export interface ScenarioResult {
  scenario: string;
  rounds: number;
  /** The fewest proxies that ACKed a response carrying the change, over the rounds (a round waits for all). */
  ackedBy: number;
  /** change -> last ACK, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The server's CPU per change, ms. */
  cpuMsPerChange: number;
}

export interface ScaleResult {
  target: 'meshd' | 'floor';
  /** The native allocator setting the server ran under (bench/allocators.ts). */
  allocator: string;
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
  /** V8 heap used after the initial sync (meshd: nodejs_heap_size_used_bytes on /metrics; the floor: its process.memoryUsage()). */
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
  loadAverage: [number, number, number];
}

const repoRoot = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'bin', 'meshd'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (bin/meshd) above bench/scale');
    dir = up;
  }
  return dir;
})();
const distBench = (file: string): string => path.join(repoRoot, 'dist', 'bench', file);

const now = (): number => performance.timeOrigin + performance.now();

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

async function startMeshd(sourceArgs: string[], timeoutMs: number, allocator: string, profileDir?: string, logFile?: string): Promise<MeshdChild> {
  // Profiles are written when meshd exits (SIGTERM ends it cleanly).
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--heap-prof', '--heap-prof-dir', profileDir] : [];
  const child = spawn(
    process.execPath,
    [
      ...profile,
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
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot, env: { ...process.env, ...allocatorEnv(allocator) } },
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
}

async function measure(
  target: Target,
  kind: ScaleResult['target'],
  allocator: string,
  mode: ScaleResult['mode'],
  protocol: Protocol,
  proxies: number,
  options: ScaleOptions,
  scenarioNames: readonly string[],
  recordTo?: string,
): Promise<ScaleResult> {
  const timeouts = timeoutsFor(proxies, options.services);
  const perChannel = options.streamsPerChannel ?? 250;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settleMs = options.settleMs ?? 300;
  const label = `${kind}${allocator === 'default' ? '' : ` (${allocator})`} ${mode} ${protocol} ${proxies} proxies`;
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
    await sim.quiet(settleMs, timeouts.changeMs);
    const steady = memory(target.pid);
    const js = await target.jsMemory();
    progress(`  ${label}: synced in ${((syncedAt - connectAt) / 1000).toFixed(1)} s`);

    const cpuBefore = cpuSeconds(target.pid);
    const results: ScenarioResult[] = [];
    for (const name of scenarioNames) {
      const samples: number[] = [];
      let ackedBy = proxies;
      const cpuStart = cpuSeconds(target.pid);
      for (let round = 1; round <= options.rounds; round++) {
        const planned = target.plan(name, round);
        sim.send({ cmd: 'phase', name: planned.phase });
        const id = ++requestIds;
        await sim.request({ cmd: 'expect', id, markers: planned.markers }, 'expecting', 'the simulator to take the expectation', 10_000);
        const done = waitMessage<Extract<SimEvent, { event: 'done' }>>(
          sim.child,
          `every proxy to ACK ${name} round ${round} (${label})`,
          timeouts.changeMs,
          (m) => m.event === 'done' && m.id === id,
          () => sim.explain(),
        );
        const at = now();
        planned.make();
        const acked = await Promise.race([done, target.exited]);
        samples.push(acked.lastAckAt - at);
        ackedBy = Math.min(ackedBy, acked.proxies);
        await sim.quiet(settleMs, timeouts.changeMs);
      }
      const cpu = cpuSeconds(target.pid) - cpuStart;
      samples.sort((a, b) => a - b);
      const result: ScenarioResult = {
        scenario: name,
        rounds: samples.length,
        ackedBy,
        p50Ms: Math.round(percentile(samples, 50)),
        p99Ms: Math.round(percentile(samples, 99)),
        maxMs: Math.round(samples[samples.length - 1]!),
        cpuMsPerChange: Math.round((cpu * 1000) / samples.length),
      };
      results.push(result);
      progress(`    ${name}: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
    }
    const cpuRounds = cpuSeconds(target.pid) - cpuBefore;
    sim.send({ cmd: 'phase', name: 'after' });
    if (recordTo) await sim.request({ cmd: 'saveRecording', id: ++requestIds, path: recordTo }, 'saved', 'the recording to be written', 60_000);
    const end = memory(target.pid);
    const queuedPeakMb = await target.queuedPeakMb?.();
    if (queuedPeakMb !== undefined) progress(`    response bytes in flight peaked at ${queuedPeakMb} MB`);
    const simCpu = cpuSeconds(sim.child.pid!);
    return {
      target: kind,
      allocator,
      mode,
      protocol,
      proxies,
      services: options.services,
      channels: Math.ceil(proxies / perChannel),
      initialSyncMs: Math.round(syncedAt - connectAt),
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
      scenarios: results,
      loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))) as [number, number, number],
    };
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
): Promise<{ result: ScaleResult; replay: Replay['phases'] }> {
  const timeouts = timeoutsFor(proxies, options.services);
  const store = mode === 'file' ? fileStore(options.services, proxies) : await kubeStore(options.services, proxies);
  const replay: Replay['phases'] = [];
  let meshd: MeshdChild | undefined;
  try {
    const variant = `${mode}-${protocol}-${proxies}${allocator === 'default' ? '' : `-${allocator}`}`;
    const profileDir = options.profileDir ? path.join(options.profileDir, variant) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const logFile = options.logDir ? path.join(options.logDir, `meshd-${variant}.log`) : undefined;
    if (options.logDir) mkdirSync(options.logDir, { recursive: true });
    meshd = await startMeshd(store.args, timeouts.startMs, allocator, profileDir, logFile);
    const list = scenarios(options.services);
    const current = new Map<number, KubeObject[]>();
    const started = meshd;
    const target: Target = {
      pid: started.pid,
      exited: started.exited,
      address: `127.0.0.1:${started.xdsPort}`,
      jsMemory: () => jsMemory(started.httpPort),
      queuedPeakMb: () => queuedResponsePeakMb(started.httpPort),
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
      list.map((s) => s.name).filter((name) => !options.scenarios || options.scenarios.includes(name)),
      recordTo,
    );
    return { result, replay };
  } finally {
    if (meshd) await stopChild(meshd.child);
    await store.close();
  }
}

/** The floor: the recorded bytes from a bare grpc-js server, the same changes replayed. */
async function runFloor(protocol: Protocol, proxies: number, options: ScaleOptions, replay: Replay): Promise<ScaleResult> {
  const child = track(fork(distBench('floorServer.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
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
    const names = [...new Set(replay.phases.map((p) => p.scenario))];
    return await measure(target, 'floor', 'default', '-', protocol, proxies, options, names);
  } finally {
    await stopChild(child, 5_000);
  }
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult[]> {
  const results: ScaleResult[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshd-scale-recording-'));
  try {
    for (const proxies of options.proxies) {
      for (const protocol of options.protocols) {
        let replay: Replay | undefined;
        for (const mode of options.modes) {
          for (const allocator of options.allocators ?? ['default']) {
            const recordTo = options.floor && !replay ? path.join(dir, `${protocol}-${proxies}.json`) : undefined;
            const run = await runMeshd(mode, allocator, protocol, proxies, options, recordTo);
            results.push(run.result);
            if (recordTo) replay = { recording: recordTo, phases: run.replay };
          }
        }
        if (replay) results.push(await runFloor(protocol, proxies, options, replay));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

// ------------------------------------------------------------ output

const scenarioColumns = ['VirtualService edit', 'endpoint change', 'new service', 'Pod relabel'];

/** The Markdown table for BENCHMARKS.md. */
export function scaleTable(results: readonly ScaleResult[]): string {
  const header = [
    'server',
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
    ...scenarioColumns.map((s) => `${s} p50 / p99 (ms)`),
    'load avg (1 min)',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of results) {
    const cell = (name: string): string => {
      const s = r.scenarios.find((x) => x.scenario === name);
      return s ? `${s.p50Ms} / ${s.p99Ms}` : '-';
    };
    lines.push(
      `| ${[
        r.allocator === 'default' ? r.target : `${r.target} (${r.allocator})`,
        r.mode,
        r.protocol,
        r.proxies,
        r.services,
        (r.initialSyncMs / 1000).toFixed(1),
        (r.syncBytesPerProxy / 2 ** 20).toFixed(2),
        r.peakRssMb,
        r.steadyRssMb,
        r.heapUsedMb,
        `${r.externalMb} / ${r.arrayBuffersMb}`,
        r.cpuSyncSeconds,
        r.cpuRoundsSeconds,
        ...scenarioColumns.map(cell),
        r.loadAverage[0],
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export function parseScaleFlags(argv: readonly string[]): ScaleOptions {
  const options: ScaleOptions = {
    proxies: [100, 500, 1000, 2000],
    services: 1000,
    modes: ['file', 'kube'],
    protocols: ['sotw', 'delta'],
    rounds: 10,
    floor: true,
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
    else if (flag === '--scenarios') {
      options.scenarios = value(i++).split(',');
      const unknown = options.scenarios.filter((name) => !scenarioColumns.includes(name));
      if (unknown.length > 0) throw new Error(`${flag}: unknown scenario ${JSON.stringify(unknown[0])}; want some of ${scenarioColumns.join(', ')}`);
    } else
      throw new Error(
        `unknown flag ${flag}; flags: --proxies N[,N...] --services N --mode file|kube|both --protocol sotw|delta|both --rounds R --floor|--no-floor --profile-dir DIR --log-dir DIR --allocators NAME[,NAME...] --scenarios NAME[,NAME...]`,
      );
  }
  return options;
}

/** `npm run bench -- scale [flags]`: JSON lines (one per run), then the Markdown table. */
export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const options = parseScaleFlags(argv);
  // Interrupted: exit through 'exit', which kills the children still running.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  console.log(`\n## Scale: the real pipeline (issue 13), ${options.services} services\n`);
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const results = await runScale({ ...options, progress: (line) => process.stderr.write(`${line}\n`) });
  for (const r of results) console.log(JSON.stringify(r));
  console.log(
    `\nload average at end: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(scaleTable(results));
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
