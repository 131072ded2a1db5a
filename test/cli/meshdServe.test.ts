// The real `meshd serve --config-dir` binary: start-up contract, an edited file
// pushes only the affected xDS type, SIGTERM drains.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { reviewsService } from '../support/reviewsMesh.js';

const run = promisify(execFile);

const service = reviewsService;
const slice = (ips: string[]): string => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-1
  namespace: default
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
${ips.map((ip) => `- addresses: ["${ip}"]\n  conditions: {ready: true}`).join('\n')}
`;

describe('meshd serve', () => {
  let dir: string;
  let meshd: MeshdProcess;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-serve-'));
    await writeFile(path.join(dir, 'service.yaml'), service);
    await writeFile(path.join(dir, 'endpoints.yaml'), slice(['10.1.0.5']));
    meshd = await spawnMeshd(['--config-dir', dir, '--debounce-after', '50ms']);
  });
  afterAll(async () => {
    meshd.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without a configuration source, saying how to choose', async () => {
    const err = await run(process.execPath, ['bin/meshd', 'serve'], { env: { ...process.env, KUBERNETES_SERVICE_HOST: '', KUBECONFIG: '' } }).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/--config-dir DIR.*--kubeconfig PATH/);
  });

  it('logs the bound ports once, becomes ready, and serves the files over ADS', async () => {
    expect(meshd.logs.filter((l) => l.msg === 'listening')).toHaveLength(1);
    expect(meshd.ports.xds).toBeGreaterThan(0);
    expect(meshd.ports.secure).toBeGreaterThan(0);
    await eventually(async () => (await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`)).status === 200);
    const c = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', sidecarNode('productpage'));
    try {
      c.request(TypeUrl.Cluster);
      const cds = await c.next();
      const name = 'outbound|9080||reviews.default.svc.cluster.local';
      expect(cds.resources.map((r) => r.name)).toContain(name);
      c.ack(cds);
      c.request(TypeUrl.ClusterLoadAssignment, { names: [name] });
      const eds = await c.next();
      expect(JSON.stringify(eds.resources[0]!.body)).toContain('10.1.0.5');
      c.ack(eds, [name]);
      c.request(TypeUrl.Listener);
      c.ack(await c.next());

      // An endpoint-only edit: the next message is EDS alone, with the new address.
      await writeFile(path.join(dir, 'endpoints.yaml'), slice(['10.1.0.5', '10.1.0.6']));
      const pushed = await c.next(10_000);
      expect(pushed.typeUrl).toBe(TypeUrl.ClusterLoadAssignment);
      expect(JSON.stringify(pushed.resources)).toContain('10.1.0.6');
      c.ack(pushed, [name]);
      // Nothing else was queued for this proxy by that edit.
      await eventually(async () => {
        const syncz = (await (await fetch(`http://127.0.0.1:${meshd.ports.http}/debug/syncz`)).json()) as Array<{
          EDS: { status: string };
          CDS: { status: string; sentNonce: string };
        }>;
        return syncz[0]?.EDS.status === 'SYNCED' && syncz[0].CDS.sentNonce === cds.nonce;
      });
      expect(c.pending).toBe(0);

      // SIGTERM: the stream ends UNAVAILABLE and the process exits 0 within the drain bound.
      meshd.child.kill('SIGTERM');
      expect((await c.ended(8_000)).code).toBe(grpc.status.UNAVAILABLE);
      expect(await meshd.exited).toBe(0);
      expect(meshd.logs.some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      c.close();
    }
  });
});
