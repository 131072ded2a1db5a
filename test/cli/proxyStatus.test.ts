// `meshctl proxy-status` (the real binary) against a running meshd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import type { ProxyDetail } from '../../src/status/proxyDetail.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster, loadAssignment } from '../support/xdsFixtures.js';
import { meshctl } from '../support/meshctl.js';

describe('meshctl proxy-status', () => {
  let meshd: Meshd;
  let httpUrl: string;
  let source: SnapshotSource;
  const clients: AdsTestClient[] = [];
  beforeAll(async () => {
    source = new SnapshotSource([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]);
    source.generator.setResources(TypeUrl.Cluster, [cluster('a')]);
    source.generator.setResources(TypeUrl.ClusterLoadAssignment, [loadAssignment('a', ['10.0.0.1'])]);
    let xdsAddress: string;
    ({ meshd, httpUrl, xdsAddress } = await startTestMeshd({ resources: source }));
    // synced: CDS and EDS acknowledged; nacked: CDS rejected; stale: CDS sent, never acknowledged.
    const synced = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('reviews-v1', 'bookinfo'));
    const nacked = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('ratings-v1', 'bookinfo'));
    const stale = new AdsTestClient(xdsAddress, 'delta', sidecarNode('web', 'frontend'));
    clients.push(synced, nacked, stale);
    synced.request(TypeUrl.Cluster);
    synced.ack(await synced.next());
    synced.request(TypeUrl.ClusterLoadAssignment, { names: ['a'] });
    synced.ack(await synced.next(), ['a']);
    nacked.request(TypeUrl.Cluster);
    nacked.nack(await nacked.next(), 'bad cluster');
    stale.delta(TypeUrl.Cluster);
    await stale.next();
    await eventually(() => {
      const s = meshd.status.syncz();
      return s.length === 3 && s.some((x) => x.EDS.status === 'SYNCED') && s.some((x) => x.CDS.status === 'NACKED');
    });
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await meshd.close();
  });

  it('prints istioctl columns with each proxy state', async () => {
    const { stdout } = await meshctl(['--server', httpUrl, 'proxy-status']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION']);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!.split(/\s{2,}/);
    expect(row('ratings-v1.bookinfo')).toEqual([
      'ratings-v1.bookinfo',
      'Kubernetes',
      'NACKED',
      'NOT SENT',
      'NOT SENT',
      'NOT SENT',
      'NOT SENT',
      'istiod-test',
      '1.24.0',
    ]);
    expect(row('reviews-v1.bookinfo')).toEqual([
      'reviews-v1.bookinfo',
      'Kubernetes',
      'SYNCED',
      'NOT SENT',
      'SYNCED',
      'NOT SENT',
      'NOT SENT',
      'istiod-test',
      '1.24.0',
    ]);
    expect(row('web.frontend')[2]).toBe('STALE');
    // Columns line up: every row's CDS cell starts where the header's CDS starts.
    const cdsAt = lines[0]!.indexOf('CDS');
    for (const l of lines.slice(1)) expect(l.slice(cdsAt, cdsAt + 3)).toMatch(/^(SYN|NAC|STA|NOT)/);
  });

  it('filters by namespace and by proxy, and prints JSON', async () => {
    const ns = await meshctl(['--server', httpUrl, 'proxy-status', '-n', 'bookinfo']);
    expect(ns.stdout).toContain('reviews-v1.bookinfo');
    expect(ns.stdout).not.toContain('web.frontend');
    const all = await meshctl(['--server', httpUrl, 'proxy-status', '-o', 'json']);
    const parsed = JSON.parse(all.stdout) as Array<{ proxy: string; CDS: { status: string; error: string } }>;
    expect(parsed).toHaveLength(3);
    expect(parsed.find((p) => p.proxy.includes('~ratings-v1.'))!.CDS).toMatchObject({ status: 'NACKED', error: 'bad cluster' });
  });

  it('shows a NACKed proxy in detail: versions, nonces and the error', async () => {
    const { stdout } = await meshctl(['--server', httpUrl, 'proxy-status', 'ratings-v1.bookinfo']);
    expect(stdout).toMatch(/^Proxy ratings-v1\.bookinfo \(sidecar~/);
    expect(stdout).toMatch(/\nCDS\s+NACKED\s+\S+\s+\S+-\d+\s+-\s+-\s+never/);
    expect(stdout).toContain('CDS NACK: bad cluster');
    const json = JSON.parse((await meshctl(['--server', httpUrl, 'proxy-status', 'ratings-v1.bookinfo', '-o', 'json'])).stdout) as ProxyDetail;
    expect(json.types.find((t) => t.type === 'CDS')).toMatchObject({ status: 'NACKED', error: 'bad cluster', ackedNonce: '' });
  });

  it('explains a STALE proxy with the diff between what it acknowledged and what meshd would send', async () => {
    // reviews-v1 acknowledged cluster a; now a changes and b appears, and the proxy never acknowledges.
    source.generator.setResources(TypeUrl.Cluster, [cluster('a', 9), cluster('b')]);
    source.push([TypeUrl.Cluster]);
    await eventually(() => meshd.status.syncz().find((s) => s.proxy.includes('~reviews-v1.'))?.CDS.status === 'STALE');
    const { stdout } = await meshctl(['--server', httpUrl, 'proxy-status', 'reviews-v1.bookinfo']);
    expect(stdout).toMatch(/\nCDS\s+STALE\s/);
    expect(stdout).toContain('CDS: acknowledged configuration differs from what meshd would send now:\n  + b\n  ~ a');
    const json = JSON.parse((await meshctl(['--server', httpUrl, 'proxy-status', 'reviews-v1.bookinfo', '-o', 'json'])).stdout) as ProxyDetail;
    const cds = json.types.find((t) => t.type === 'CDS')!;
    expect(cds.diff).toEqual({ added: ['b'], removed: [], changed: ['a'] });
    expect(cds.ackedSecondsAgo).toBeGreaterThanOrEqual(0);
    expect(cds.sentNonce).not.toBe(cds.ackedNonce);
  });

  it('says clearly when meshd cannot be reached', async () => {
    expect(await meshctl(['--server', 'http://127.0.0.1:1', 'proxy-status'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/cannot reach meshd at http:\/\/127.0.0.1:1/),
    });
  });
});
