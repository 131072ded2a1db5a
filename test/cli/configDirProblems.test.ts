// A --config-dir file that does not parse, through the real binaries: meshd
// neither crashes nor stays unready, keeps what the file last held, and the
// same IST0106 (file and line) reaches /debug/analyze, the logs and
// `meshctl analyze`, live and offline.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisMessage } from '../../src/analysis/messages.js';
import { eventually } from '../support/adsClient.js';
import { meshctl } from '../support/meshctl.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { reviewsDestinationRuleV1, reviewsPodV1, reviewsService, reviewsVirtualService, yamlDocuments } from '../support/reviewsMesh.js';

/** Expands `*h` 101 times: the yaml package refuses (`Excessive alias count`) while converting. */
const aliasBomb = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: payments, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [&h payment-service]
    tls: {credentialNames: [${Array(101).fill('*h').join(', ')}]}
`;

const ratingsService = reviewsService.replaceAll('reviews', 'ratings');

describe('a config file that does not parse', () => {
  let dir: string;
  let meshd: MeshdProcess;
  let url: string;
  const analyze = async (): Promise<AnalysisMessage[]> => (await (await fetch(`${url}/debug/analyze`)).json()) as AnalysisMessage[];
  const fileMessages = (messages: AnalysisMessage[], file: string) => messages.filter((m) => m.resource.origin?.file === file && m.code === 'IST0106');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-broken-'));
    await writeFile(path.join(dir, 'bomb.yaml'), aliasBomb);
    await writeFile(path.join(dir, 'mesh.yaml'), yamlDocuments(reviewsService, reviewsPodV1, reviewsDestinationRuleV1, reviewsVirtualService('v1')));
    meshd = await spawnMeshd(['--config-dir', dir, '--debounce-after', '20ms']);
    url = `http://127.0.0.1:${meshd.ports.http}`;
  });
  afterAll(async () => {
    meshd.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('present at start-up: meshd becomes ready and reports it once, as IST0106 at its file and line, everywhere', async () => {
    await eventually(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'readiness');
    const live = fileMessages(await analyze(), 'bomb.yaml');
    expect(live).toEqual([
      expect.objectContaining({
        code: 'IST0106',
        level: 'Error',
        resource: { kind: 'File', namespace: '', name: 'bomb.yaml', origin: { file: 'bomb.yaml', line: 1 } },
        message: expect.stringContaining('Excessive alias count') as string,
        fix: 'fix the YAML document; meshd skips it and loads the rest of the file',
      }),
    ]);
    const line = 'Error [IST0106] (File bomb.yaml:1) Schema validation error: Excessive alias count';
    const offline = await meshctl(['analyze', '--config-dir', dir]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toContain(line);
    expect(offline.stdout.split(line)).toHaveLength(2);
    expect(offline.stderr).not.toMatch(/^\s+at /m);
    const online = await meshctl(['--server', url, 'analyze']);
    expect(online.stdout).toContain(line);
    expect(online.stdout).toContain(`fix: ${live[0]!.fix}`);
    expect(offline.stdout).toContain(`fix: ${live[0]!.fix}`);
    const logged = meshd.logs.filter((l) => String(l.msg).startsWith('analysis: Error [IST0106] (File bomb.yaml:1)'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ code: 'IST0106', fix: live[0]!.fix });
    expect(meshd.child.exitCode).toBeNull();
  });

  it('broken while running: the VirtualService keeps its last valid version and every reporter says so', async () => {
    // The same save adds a Service, so a push follows: after it, the VirtualService must still be there.
    await writeFile(
      path.join(dir, 'mesh.yaml'),
      yamlDocuments(reviewsService, ratingsService, reviewsPodV1, reviewsDestinationRuleV1, reviewsVirtualService('[v1')),
    );
    await eventually(async () => fileMessages(await analyze(), 'mesh.yaml').length === 1, 10_000, 'the live analysis to report mesh.yaml');
    const [message] = fileMessages(await analyze(), 'mesh.yaml');
    expect(message!.fix).toBe('fix the YAML document; until the file parses, meshd keeps serving the last valid version of VirtualService default/reviews');
    const sourceLog = await meshd.waitForLog((l) => l.file === 'mesh.yaml' && l.keptPreviousVersion !== undefined);
    expect(sourceLog).toMatchObject({ keptPreviousVersion: true, kept: ['VirtualService default/reviews'] });
    await meshd.waitForLog(
      (l) => String(l.msg).startsWith(`analysis: Error [IST0106] (File mesh.yaml:${message!.resource.origin!.line})`) && l.fix === message!.fix,
    );
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /^pilot_services 2$/m.test(text) ? text : undefined;
      },
      10_000,
      'the push with the new Service',
    );
    expect(metrics).toMatch(/^pilot_virt_services 1$/m);
    const online = await meshctl(['--server', url, 'analyze']);
    expect(online.stdout).toContain(`(File mesh.yaml:${message!.resource.origin!.line}) Schema validation error:`);
  });

  it('fixed files clear their messages without a restart', async () => {
    await writeFile(path.join(dir, 'bomb.yaml'), aliasBomb.replace(/\[(\*h, )+\*h\]/, '[payment-cert]'));
    await writeFile(path.join(dir, 'mesh.yaml'), yamlDocuments(reviewsService, reviewsPodV1, reviewsDestinationRuleV1, reviewsVirtualService('v1')));
    await eventually(async () => (await analyze()).every((m) => m.resource.kind !== 'File'), 10_000, 'the file messages to clear');
  });
});
