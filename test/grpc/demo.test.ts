// `npm start`: the demo serves the bundled mesh, its proxyless servers
// answer, the live counts follow the routing file, and abort stops it all.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledDemoDir, runDemo } from '../../src/demo/index.js';
import { readDemoWorkloads } from '../../src/demo/workloads.js';
import { freePort } from '../support/grpcXdsMesh.js';
import { captureLogs, getJson } from '../support/meshdHarness.js';
import { withDeadline } from '../support/grpcXdsWorkloads.js';
import { waitFor } from '../support/captureLogger.js';

let dir: string;
const lines: string[] = [];
const abort = new AbortController();
let running: Promise<void>;

/** Count of `version` in one live-count line, e.g. `v1 ███ 40`. */
const countOf = (line: string, version: string): number => Number(new RegExp(`\\b${version} [█ ]*?\\s(\\d+)\\b`).exec(line)?.[1] ?? -1);
const countLines = () => lines.filter((l) => /^\d\d:\d\d:\d\d /.test(l));

beforeAll(async () => {
  // A copy of the bundled mesh on free ports, so the test never collides with a running `npm start`.
  dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-demo-'));
  await cp(bundledDemoDir(), dir, { recursive: true });
  let mesh = await readFile(path.join(dir, 'mesh.yaml'), 'utf8');
  for (const port of ['17071', '17072', '17073']) mesh = mesh.replaceAll(port, String(await freePort()));
  await writeFile(path.join(dir, 'mesh.yaml'), mesh);
  running = runDemo({
    signal: abort.signal,
    configDir: dir,
    ports: { xds: 0, secure: 0, http: 0 },
    print: (l) => lines.push(l),
    logger: captureLogs('warn').logger,
  });
  running.catch((err: unknown) => lines.push(`runDemo failed: ${(err as Error).stack ?? String(err)}`));
});

afterAll(async () => {
  abort.abort();
  await running.catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('npm start demo', () => {
  it('bundles a mesh with one proxyless server per version', async () => {
    const workloads = await readDemoWorkloads(bundledDemoDir());
    expect(workloads.map((w) => w.version).sort()).toEqual(['v1', 'v2', 'v3']);
  });

  it('prints live counts that follow the 80/20 split of demo/routing.yaml', async () => {
    await waitFor(
      () => countLines().filter((l) => countOf(l, 'v1') > 0 && countOf(l, 'v2') > 0).length >= 2,
      'two count lines with v1 and v2 answering',
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; demo output so far:\n${lines.join('\n')}`);
    });
    const line = countLines().find((l) => countOf(l, 'v1') > 0 && countOf(l, 'v2') > 0)!;
    expect(countOf(line, 'v3')).toBe(0);
    expect(line).toContain('errors 0');
    expect(lines[0]).toContain('meshd demo');
  });

  it('shows the demo proxies SYNCED in proxy-status (the debug API meshctl reads)', async () => {
    const debugUrl = /debug API on (http:\/\/\S+)/.exec(lines[0] ?? '')?.[1];
    expect(debugUrl).toBeDefined();
    const statuses = (await getJson<Array<Record<string, any>>>(`${debugUrl}/debug/syncz`)).body;
    const byPod = (pod: string) => statuses.find((s) => String(s.proxy).includes(`~${pod}.demo~`));
    for (const type of ['CDS', 'LDS', 'EDS', 'RDS']) expect(byPod('demo-client')?.[type]?.status).toBe('SYNCED');
    for (const pod of ['echo-v1', 'echo-v2', 'echo-v3']) expect(byPod(pod)?.LDS?.status).toBe('SYNCED');
  });

  it('moves the counts when routing.yaml changes', async () => {
    const file = path.join(dir, 'routing.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('weight: 80', 'weight: 0').replace('weight: 20', 'weight: 100'));
    const seen = lines.length;
    await waitFor(() => lines.slice(seen).some((l) => countOf(l, 'v2') > 0 && countOf(l, 'v1') === 0), 'a count line with all calls on v2', 20_000);
  });

  it('stops everything when aborted', async () => {
    abort.abort();
    await withDeadline(running, 10_000, 'the demo to stop');
    expect(lines.at(-1)).toBe('stopping the demo');
  });
});
