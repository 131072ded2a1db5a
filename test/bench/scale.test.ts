// The scale benchmark (`npm run bench -- scale`) at a tiny size, so it cannot
// rot silently: the real meshd process in file and Kubernetes mode, SotW and
// Delta, and the transport floor. No timing assertions: only that it runs,
// reports every figure, and that every change reached every proxy.
// Needs dist/ (npm test builds it first): meshd and the simulator run as processes.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shippedAllocator } from '../../bench/allocators.js';
import { failedRun, parseScaleFlags, runScale, scaleTable, writeScaleReport, type FailedRun, type ScaleResult, type ScaleRun } from '../../bench/scale.js';

const scenarios = ['VirtualService edit', 'endpoint change', 'new service', 'Pod relabel'];

/** Options no run is started with. */
const noRun = { proxies: [1], services: 1, modes: ['file' as const], protocols: ['sotw' as const], rounds: 1, floor: false };

const logDir = mkdtempSync(join(tmpdir(), 'meshd-scale-test-'));
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

describe('scale benchmark', () => {
  it('measures meshd (files and API server, SotW and Delta) and the floor, every change ACKed by every proxy', async () => {
    const proxies = 3;
    const runs = await runScale({
      proxies: [proxies],
      services: 10,
      modes: ['file', 'kube'],
      protocols: ['sotw', 'delta'],
      rounds: 2,
      floor: true,
      settleMs: 150,
      // 2 streams per channel: 3 proxies on 2 channels, which must be 2 TCP connections.
      streamsPerChannel: 2,
      logDir,
      progress: () => undefined,
    });
    expect(runs.filter(failedRun)).toEqual([]);
    const results = runs as ScaleResult[];
    expect(results.map((r) => `${r.target}/${r.mode}/${r.protocol}`)).toEqual([
      'meshd/file/sotw',
      'meshd/kube/sotw',
      'floor/-/sotw',
      'meshd/file/delta',
      'meshd/kube/delta',
      'floor/-/delta',
    ]);
    for (const r of results) {
      const where = `${r.target}/${r.mode}/${r.protocol}`;
      expect(r.proxies, where).toBe(proxies);
      expect(r.channels, where).toBe(2);
      expect(r.initialSyncMs, where).toBeGreaterThan(0);
      expect(r.syncBytesPerProxy, where).toBeGreaterThan(10_000);
      expect(r.steadyRssMb, where).toBeGreaterThan(0);
      expect(r.peakRssMb, where).toBeGreaterThanOrEqual(r.steadyRssMb);
      expect(r.heapUsedMb, where).toBeGreaterThan(0);
      // meshd under the allocator the image ships, the floor under glibc's defaults.
      expect(r.allocator, where).toBe(r.target === 'meshd' ? shippedAllocator() : 'default');
      // arrayBuffers is part of external, both read at the steady moment (meshd: /debug/memz).
      expect(r.externalMb, where).toBeGreaterThanOrEqual(r.arrayBuffersMb);
      expect(r.externalMb, where).toBeGreaterThan(0);
      expect(r.cpuSyncSeconds, where).toBeGreaterThan(0);
      expect(r.cpuRoundsSeconds, where).toBeGreaterThanOrEqual(0);
      expect(r.simCpuSeconds, where).toBeGreaterThan(0);
      expect(r.loadAverage, where).toHaveLength(3);
      expect(
        r.scenarios.map((s) => s.scenario),
        where,
      ).toEqual(scenarios);
      for (const s of r.scenarios) {
        expect(s.rounds, `${where} ${s.scenario}`).toBe(2);
        expect(s.planned, `${where} ${s.scenario}`).toBe(2);
        expect(s.timedOut, `${where} ${s.scenario}`).toBeUndefined();
        expect(s.ackedBy, `${where} ${s.scenario}`).toBe(proxies);
        expect(s.p50Ms, `${where} ${s.scenario}`).toBeLessThanOrEqual(s.p99Ms);
        expect(s.p99Ms, `${where} ${s.scenario}`).toBeLessThanOrEqual(s.maxMs);
        expect(s.roundsMs, `${where} ${s.scenario}`).toHaveLength(2);
        expect(Math.max(...s.roundsMs), `${where} ${s.scenario}`).toBe(s.maxMs);
        expect(Number.isFinite(s.cpuMsPerChange), `${where} ${s.scenario}`).toBe(true);
      }
    }
    // The floor serves the bytes meshd sent: a full sync is the same size but for versions and nonces.
    for (const protocol of ['sotw', 'delta']) {
      const meshd = results.find((r) => r.target === 'meshd' && r.protocol === protocol)!;
      const floor = results.find((r) => r.target === 'floor' && r.protocol === protocol)!;
      expect(Math.abs(floor.syncBytesPerProxy - meshd.syncBytesPerProxy) / meshd.syncBytesPerProxy, protocol).toBeLessThan(0.02);
    }
    // Each channel has its own subchannel pool, so meshd sees as many peers (TCP connections) as channels.
    const logs = readdirSync(logDir);
    expect(logs).toHaveLength(4);
    for (const file of logs) {
      const peers = new Set(readFileSync(join(logDir, file), 'utf8').match(/"peer":"[^"]+"/g));
      expect(peers.size, file).toBe(2);
    }
    const table = scaleTable(results).split('\n');
    expect(table).toHaveLength(2 + results.length);
    expect(table[2]).toMatch(new RegExp(`^\\| meshd \\| ${shippedAllocator()} \\| file \\| sotw \\| 3 \\| 10 \\|`));
  }, 180_000);

  it('keeps every result: a timed-out scenario is reported and the next one runs, each step is reported as it ends, the heap is summarised; --meshd-env reaches meshd', async () => {
    const proxies = 3;
    const envLogDir = join(logDir, 'env');
    const reports: Array<{ finished: boolean; run: ScaleRun }> = [];
    const runs = await runScale({
      proxies: [proxies],
      services: 10,
      modes: ['file'],
      protocols: ['sotw'],
      rounds: 2,
      floor: true,
      settleMs: 150,
      scenarios: ['VirtualService edit', 'endpoint change'],
      // Shorter than meshd's 100 ms debounce: no proxy can have the edit in time.
      roundTimeoutsMs: { 'VirtualService edit': 20 },
      heapSnapshot: true,
      // istiod's flag: an endpoint change is pushed at once instead of after the debounce.
      meshdEnv: { PILOT_ENABLE_EDS_DEBOUNCE: 'false' },
      logDir: envLogDir,
      progress: () => undefined,
      onRun: (run, finished) => reports.push({ finished, run }),
    });
    expect(runs.map((r) => `${r.target}/${failedRun(r) ? r.error : 'ok'}`)).toEqual(['meshd/ok', 'floor/ok']);
    const [meshd, floor] = runs as ScaleResult[];

    const [edit, endpoint] = meshd!.scenarios;
    expect(edit).toMatchObject({ scenario: 'VirtualService edit', planned: 2, rounds: 0, ackedBy: 0 });
    expect(edit!.timedOut).toMatch(/^timed out after 0 of 2 rounds: timed out waiting for every proxy to ACK VirtualService edit round 1/);
    expect(Number.isFinite(edit!.cpuMsPerChange)).toBe(true); // the timed-out change's CPU, not divided by no rounds
    expect(endpoint).toMatchObject({ scenario: 'endpoint change', planned: 2, rounds: 2, ackedBy: proxies });
    expect(endpoint!.timedOut).toBeUndefined();
    // The floor replays the rounds meshd made: one edit (which went out late), both endpoint changes.
    expect(floor!.scenarios.map((s) => [s.scenario, s.planned])).toEqual([
      ['VirtualService edit', 1],
      ['endpoint change', 2],
    ]);
    expect(scaleTable(runs).split('\n')[2]).toContain('| - (timed out after 0 of 2 rounds) |');

    // meshd ran with the environment asked for, and says so; the floor did not get it.
    expect(meshd!.meshdEnv).toEqual({ PILOT_ENABLE_EDS_DEBOUNCE: 'false' });
    expect(floor!.meshdEnv).toBeUndefined();
    expect(scaleTable(runs).split('\n')[2]).toMatch(/\| `PILOT_ENABLE_EDS_DEBOUNCE=false` \|$/);
    const pushes = readFileSync(join(envLogDir, readdirSync(envLogDir)[0]!), 'utf8')
      .split('\n')
      .filter((line) => line.includes('push debounce stable'))
      .map((line) => JSON.parse(line) as { reason: string[]; debounceMs: number });
    const endpointPushes = pushes.filter((p) => p.reason.some((r) => r.startsWith('EndpointSlice/')));
    expect(endpointPushes).toHaveLength(2);
    // Flushed at once, an endpoint batch does not wait out the 100 ms debounce (with it, debounceMs would be about 100).
    for (const p of endpointPushes) expect(p.debounceMs).toBeLessThan(50);

    // The heap snapshot of meshd after the sync, and /debug/memz before it; none of the floor.
    expect(meshd!.heap?.error).toBeUndefined();
    expect(meshd!.heap!.beforeMb.heapUsedMb).toBeGreaterThan(0);
    expect(meshd!.heap!.summary!.constructors).toHaveLength(15);
    expect(meshd!.heap!.summary!.backingStores.count).toBeGreaterThan(0);
    expect(meshd!.heap!.file).toBeUndefined(); // no --profile-dir: deleted once summarised
    expect(floor!.heap).toBeUndefined();

    // Reported as it went: meshd after its sync, its heap and each scenario, then finished; then the floor.
    const meshdReports = reports.filter((r) => r.run.target === 'meshd');
    expect(meshdReports.map((r) => [r.finished, r.run.scenarios.length, r.run.heap !== undefined])).toEqual([
      [false, 0, false],
      [false, 0, true],
      [false, 1, true],
      [false, 2, true],
      [true, 2, true],
    ]);
    expect(meshdReports[0]!.run).toMatchObject({ error: expect.stringMatching(/^unfinished/), initialSyncMs: meshd!.initialSyncMs });
    expect(reports.filter((r) => r.finished).map((r) => r.run)).toEqual(runs);

    const out = join(logDir, 'report', 'scale.json');
    writeScaleReport(out, { command: 'test' }, runs);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ command: 'test', runs: [{ target: 'meshd' }, { target: 'floor' }] });
    const markdown = readFileSync(join(logDir, 'report', 'scale.md'), 'utf8');
    expect(markdown).toContain(scaleTable(runs));
    expect(markdown).toContain('### Heap of meshd');
    expect(markdown).toContain('system / JSArrayBufferData');
  }, 180_000);

  it('reports a run that fails with what it measured and why, and starts the next run', async () => {
    let killed: number | undefined;
    const runs = await runScale({
      proxies: [2],
      services: 10,
      modes: ['file'],
      protocols: ['sotw'],
      rounds: 1,
      floor: true,
      settleMs: 150,
      allocators: ['default', 'arena2'],
      scenarios: ['VirtualService edit', 'Pod relabel'],
      // The first meshd dies once its first scenario ended.
      progress: (line) => {
        const pid = /started, pid (\d+)$/.exec(line)?.[1];
        if (pid && killed === undefined) killed = Number(pid);
        else if (/^ {4}VirtualService edit: /.test(line) && killed !== undefined && killed > 0) {
          process.kill(killed, 'SIGKILL');
          killed = -killed;
        }
      },
    });
    expect(killed).toBeLessThan(0);
    expect(runs.map((r) => `${r.target}/${r.allocator}/${failedRun(r) ? 'failed' : 'ok'}`)).toEqual([
      'meshd/default/failed',
      'meshd/arena2/ok',
      'floor/default/ok',
    ]);
    const failed = runs[0] as FailedRun;
    expect(failed.error).toMatch(/^meshd exited during the run \(SIGKILL\)/);
    expect(failed.initialSyncMs).toBeGreaterThan(0);
    expect(failed.scenarios).toMatchObject([{ scenario: 'VirtualService edit', rounds: 1, ackedBy: 2 }]);
    // The floor replays the run that finished.
    expect(runs[2]!.scenarios.map((s) => [s.scenario, s.rounds])).toEqual([
      ['VirtualService edit', 1],
      ['Pod relabel', 1],
    ]);
    const row = scaleTable(runs).split('\n')[2]!;
    expect(row).toMatch(/^\| meshd \| default \| file \| sotw \| 2 \| 10 \| \d+\.\d \| - \|/);
    expect(row).toContain('| stopped: meshd exited during the run (SIGKILL)');
    await expect(runScale({ ...noRun, scenarios: ['Pod relabel', 'restart'] })).rejects.toThrow(/^scenarios: unknown scenario "restart"; want one or more of/);
  }, 180_000);

  it('rejects bad flags with the flag named', () => {
    expect(parseScaleFlags(['--proxies', '100,500', '--services', '50', '--mode', 'kube', '--protocol', 'both', '--rounds', '3', '--no-floor'])).toMatchObject({
      proxies: [100, 500],
      services: 50,
      modes: ['kube'],
      protocols: ['sotw', 'delta'],
      rounds: 3,
      floor: false,
    });
    expect(() => parseScaleFlags(['--mode', 'cluster'])).toThrow(/--mode "cluster": want file, kube or both/);
    expect(() => parseScaleFlags(['--proxies', '10,x'])).toThrow(/--proxies "x"/);
    expect(() => parseScaleFlags(['--rounds'])).toThrow(/--rounds needs a value/);
    expect(() => parseScaleFlags(['--fast'])).toThrow(/unknown flag --fast/);
    expect(parseScaleFlags(['--allocators', 'default,arena2']).allocators).toEqual(['default', 'arena2']);
    expect(parseScaleFlags(['--scenarios', 'VirtualService edit,Pod relabel']).scenarios).toEqual(['VirtualService edit', 'Pod relabel']);
    expect(parseScaleFlags(['--scenarios', 'new service, Pod relabel']).scenarios).toEqual(['new service', 'Pod relabel']);
    expect(() => parseScaleFlags(['--scenarios', 'VirtualService edit,restart'])).toThrow(
      /--scenarios: unknown scenario "restart"; want one or more of "VirtualService edit", "endpoint change", "new service", "Pod relabel"/,
    );
    expect(() => parseScaleFlags(['--scenarios', 'Pod relabel,'])).toThrow(/--scenarios "Pod relabel,": an empty scenario name/);
    expect(() => parseScaleFlags(['--scenarios', 'Pod relabel,Pod relabel'])).toThrow(/--scenarios: scenario "Pod relabel" named twice/);
    // meshd runs under the allocator the image ships unless told otherwise; the floor under glibc's defaults.
    expect(parseScaleFlags([])).toMatchObject({ allocators: [shippedAllocator()] });
    expect(parseScaleFlags([]).floorAllocator).toBeUndefined();
    expect(parseScaleFlags(['--floor-allocator', 'arena2']).floorAllocator).toBe('arena2');
    expect(() => parseScaleFlags(['--floor-allocator', 'arena2,default'])).toThrow(/--floor-allocator: want one allocator setting/);
    expect(parseScaleFlags(['--meshd-env', 'PILOT_ENABLE_EDS_DEBOUNCE=false', '--meshd-env', 'A=b=c']).meshdEnv).toEqual({
      PILOT_ENABLE_EDS_DEBOUNCE: 'false',
      A: 'b=c',
    });
    expect(() => parseScaleFlags(['--meshd-env', 'NOVALUE'])).toThrow(/--meshd-env "NOVALUE": want NAME=VALUE/);
    expect(parseScaleFlags(['--heap-snapshot', '--out', 'x.json'])).toMatchObject({ heapSnapshot: true, out: expect.stringMatching(/\/x\.json$/) });
    expect(() => parseScaleFlags(['--allocators', 'default,tcmalloc'])).toThrow(/--allocators "tcmalloc": want default, arena2/);
  });
});
