// The scale benchmark (`npm run bench -- scale`) at a tiny size, so it cannot
// rot silently: the real meshd process in file and Kubernetes mode, SotW and
// Delta, and the transport floor. No timing assertions: only that it runs,
// reports every figure, and that every change reached every proxy.
// Needs dist/ (npm test builds it first): meshd and the simulator run as processes.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScaleFlags, runScale, scaleTable } from '../../bench/scale.js';

const scenarios = ['VirtualService edit', 'endpoint change', 'new service', 'Pod relabel'];

const logDir = mkdtempSync(join(tmpdir(), 'meshd-scale-test-'));
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

describe('scale benchmark', () => {
  it('measures meshd (files and API server, SotW and Delta) and the floor, every change ACKed by every proxy', async () => {
    const proxies = 3;
    const results = await runScale({
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
      expect(r.allocator, where).toBe('default');
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
        expect(s.ackedBy, `${where} ${s.scenario}`).toBe(proxies);
        expect(s.p50Ms, `${where} ${s.scenario}`).toBeLessThanOrEqual(s.p99Ms);
        expect(s.p99Ms, `${where} ${s.scenario}`).toBeLessThanOrEqual(s.maxMs);
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
    expect(table[2]).toMatch(/^\| meshd \| file \| sotw \| 3 \| 10 \|/);
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
    expect(() => parseScaleFlags(['--scenarios', 'VirtualService edit,restart'])).toThrow(/--scenarios: unknown scenario "restart"/);
    expect(() => parseScaleFlags(['--allocators', 'default,tcmalloc'])).toThrow(/--allocators "tcmalloc": want default, arena2/);
  });
});
