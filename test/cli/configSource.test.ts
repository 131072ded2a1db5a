// Which configuration source `meshd serve` uses: --config-dir wins over a
// KUBECONFIG exported for kubectl; KUBECONFIG alone still selects Kubernetes mode.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagError, addServeFlags, configFromFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';
import { eventually } from '../support/adsClient.js';
import { spawnMeshd } from '../support/meshdProcess.js';
import { reviewsService } from '../support/reviewsMesh.js';

const run = promisify(execFile);

/** The flags commander parses from `args`, defaults filled in, as the binary parses them. */
function parseServeFlags(args: string[]): ServeFlags {
  return addServeFlags(new Command('serve')).parse(args, { from: 'user' }).opts<ServeFlags>();
}

describe('choosing the configuration source', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-source-'));
    await writeFile(path.join(dir, 'service.yaml'), reviewsService);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--config-dir with KUBECONFIG in the environment: file mode, the environment variable is ignored', () => {
    const config = configFromFlags(parseServeFlags(['--config-dir', dir]), { KUBECONFIG: '/home/me/.kube/config' });
    expect(config.configDir).toBe(dir);
    expect(config.kubeconfig).toBeUndefined();
    expect(config.inCluster).toBe(false);
  });

  it('KUBECONFIG alone selects Kubernetes mode with that file', () => {
    const config = configFromFlags(parseServeFlags([]), { KUBECONFIG: '/home/me/.kube/config' });
    expect(config.kubeconfig).toBe('/home/me/.kube/config');
    expect(config.configDir).toBeUndefined();
  });

  it('--kubeconfig wins over KUBECONFIG, and both explicit flags together are refused', () => {
    expect(configFromFlags(parseServeFlags(['--kubeconfig', '/a']), { KUBECONFIG: '/b' }).kubeconfig).toBe('/a');
    expect(() => configFromFlags(parseServeFlags(['--config-dir', dir, '--kubeconfig', '/a']), {})).toThrow(FlagError);
    expect(() => configFromFlags(parseServeFlags(['--config-dir', dir, '--kubeconfig', '/a']), {})).toThrow(/choose one configuration source/);
  });

  it('the real binary starts in file mode and serves with --config-dir while KUBECONFIG is exported', async () => {
    const meshd = await spawnMeshd(['--config-dir', dir], 15_000, { ...process.env, KUBECONFIG: path.join(dir, 'no-such-kubeconfig') });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`)).status === 200);
    } finally {
      meshd.child.kill('SIGKILL');
    }
  });

  it('the real binary with only KUBECONFIG tries that kubeconfig (Kubernetes mode), not "no configuration source"', async () => {
    const kubeconfig = path.join(dir, 'no-such-kubeconfig');
    const failed = await run(process.execPath, ['bin/meshd', 'serve', '--http-port', '0', '--xds-port', '0', '--secure-port', '0', '--webhook-port', '0'], {
      env: { ...process.env, KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '', MESHD_CONFIG_DIR: '' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`kubeconfig ${kubeconfig}: file not found`);
  });
});
