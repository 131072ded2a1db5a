// `meshd serve` exits on SIGTERM, with status 0 and within its bound, even when
// nobody takes its log lines: a stdout reader that stalled with lines still
// queued, or one that went away. pino's exit-time flush retried such a pipe
// forever (EAGAIN while full, EPIPE once closed), so meshd never exited.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/adsClient.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { reviewsService } from '../support/reviewsMesh.js';

/** Invalid VirtualServices with long names: each is logged as rejected, together far more than a pipe holds. */
const rejectedCount = 3_000;
const noise = (): string =>
  Array.from(
    { length: rejectedCount },
    (_, i) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: noise-${i}-${'x'.repeat(200)}, namespace: default}
spec: {hosts: not-a-list}
`,
  ).join('---\n');

async function rejectedGauge(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(/^meshd_config_rejected (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** meshd with stdout no longer read and more log lines queued than the pipe takes. */
async function meshdWithStalledStdout(dir: string): Promise<MeshdProcess> {
  await writeFile(path.join(dir, 'service.yaml'), reviewsService);
  const meshd = await spawnMeshd(['--config-dir', dir, '--debounce-after', '10ms']);
  meshd.child.stdout!.pause();
  await writeFile(path.join(dir, 'noise.yaml'), noise());
  // Each rejection is logged before the gauge counts it.
  await eventually(async () => (await rejectedGauge(meshd.ports.http)) === rejectedCount, 20_000, 'the noise objects to be rejected');
  return meshd;
}

/** The exit code, or 'still running' when it did not exit within `ms`. */
async function exitWithin(meshd: MeshdProcess, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  try {
    return await Promise.race([meshd.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('meshd serve shutdown without a stdout reader', () => {
  let dir: string | undefined;
  let meshd: MeshdProcess | undefined;
  afterEach(async () => {
    meshd?.child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 on SIGTERM when the stdout pipe was closed by its reader', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-stdout-closed-'));
    meshd = await meshdWithStalledStdout(dir);
    // The reader goes away: its end of the pipe closes with lines still queued in meshd.
    meshd.child.stdout!.destroy();
    meshd.child.kill('SIGTERM');
    // The drain bound (5 s) and the log flush bound (1 s), with room for a loaded machine.
    expect(await exitWithin(meshd, 12_000)).toBe(0);
  }, 60_000);

  it('exits 0 on SIGTERM when the stdout reader stalled and never reads again', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-stdout-stalled-'));
    meshd = await meshdWithStalledStdout(dir);
    meshd.child.kill('SIGTERM');
    expect(await exitWithin(meshd, 12_000)).toBe(0);
  }, 60_000);
});
