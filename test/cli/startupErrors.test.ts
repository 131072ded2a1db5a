// What a user sees when the real binaries cannot do what was asked: one line on
// stderr saying what and why (the port and its flag, the missing directory),
// never a stack trace, and a non-zero exit status.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListenError } from '../../src/startupError.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { freePort } from '../support/grpcXdsMesh.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { reviewsService } from '../support/reviewsMesh.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBinary(bin: 'meshd' | 'meshctl', args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`bin/${bin}`, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Exactly one line on stderr, no stack frame, a non-zero exit; returns the line. */
function expectOneLineFailure(outcome: Outcome): string {
  expect(outcome.code, outcome.stderr).not.toBe(0);
  expect(outcome.code).not.toBeNull();
  expect(outcome.stderr).not.toMatch(/^\s+at /m);
  expect(outcome.stderr.endsWith('\n')).toBe(true);
  const lines = outcome.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** Holds a TCP port on 127.0.0.1 (any free one, or `port`); resolves even if someone else already holds that port. */
function holdPort(port = 0): Promise<{ port: number; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve({ port, release: async () => {} }) : reject(err)));
    server.listen(port, '127.0.0.1', () =>
      resolve({ port: (server.address() as net.AddressInfo).port, release: () => new Promise<void>((done) => server.close(() => done())) }),
    );
  });
}

describe('failures the user can fix are one line and a non-zero exit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-startup-'));
    await writeFile(path.join(dir, 'service.yaml'), reviewsService);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('meshctl analyze --config-dir with a directory that does not exist', async () => {
    const missing = path.join(dir, 'nonexistent');
    const outcome = await runBinary('meshctl', ['analyze', '--config-dir', missing]);
    expect(expectOneLineFailure(outcome)).toBe(`Error: --config-dir ${missing}: no such directory`);
    expect(outcome.code).toBe(2);
    const notDir = await runBinary('meshctl', ['analyze', '--config-dir', path.join(dir, 'service.yaml')]);
    expect(expectOneLineFailure(notDir)).toBe(`Error: --config-dir ${path.join(dir, 'service.yaml')}: not a directory`);
  });

  for (const [flag, serves] of [
    ['--http-port', 'the debug API'],
    ['--xds-port', 'plaintext xDS'],
    ['--secure-port', 'TLS xDS and the CA'],
    ['--webhook-port', 'the admission webhooks'],
  ] as const) {
    it(`meshd serve with ${flag} on a port already in use names the port and the flag`, async () => {
      const taken = await holdPort();
      try {
        const ports = { '--http-port': '0', '--xds-port': '0', '--secure-port': '0', '--webhook-port': '0', [flag]: String(taken.port) };
        const outcome = await runBinary('meshd', ['serve', '--config-dir', dir, '--host', '127.0.0.1', ...Object.entries(ports).flat()]);
        expect(expectOneLineFailure(outcome)).toBe(
          `meshd: cannot listen on 127.0.0.1:${taken.port} for ${serves}: address already in use (choose another port with ${flag})`,
        );
      } finally {
        await taken.release();
      }
    });
  }

  it('meshd serve with a kubeconfig that does not exist', async () => {
    const missing = path.join(dir, 'kubeconfig');
    const outcome = await runBinary('meshd', [
      'serve',
      '--kubeconfig',
      missing,
      '--http-port',
      '0',
      '--xds-port',
      '0',
      '--secure-port',
      '0',
      '--webhook-port',
      '0',
    ]);
    expect(expectOneLineFailure(outcome)).toBe(`meshd: kubeconfig ${missing}: file not found`);
  });

  it('npm start (meshd demo) while the debug port 15014 is taken', async () => {
    // The demo listens on istiod's fixed ports; the debug port is bound first.
    const taken = await holdPort(15014);
    try {
      const outcome = await runBinary('meshd', ['demo']);
      expect(expectOneLineFailure(outcome)).toBe(
        'meshd demo: cannot listen on 127.0.0.1:15014 for the debug API: address already in use (is another meshd, istiod or demo running?)',
      );
    } finally {
      await taken.release();
    }
  });

  it('a start that fails on one port releases the ports it had already bound', async () => {
    const taken = await holdPort();
    const httpPort = await freePort();
    try {
      const failed = await startTestMeshd({ resources: new SnapshotSource([TypeUrl.Cluster]) }, { httpPort, xdsPort: taken.port }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(ListenError);
      expect(failed).toMatchObject({ role: 'xds', port: taken.port, inUse: true });
      // The debug port, bound before the xDS port failed, is free again.
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(httpPort, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      await taken.release();
    }
  });
});
