// ADS on the TLS port (15012): the serving certificate is issued by meshd's CA
// for istiod.istio-system.svc, and a client trusting that root gets config.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/serve/index.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { captureLogs, loopbackConfig } from '../support/meshdHarness.js';

describe('ADS over TLS', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-tls-'));
    await writeFile(
      path.join(dir, 'svc.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n',
    );
    server = await serve(
      { ...loopbackConfig, configDir: path.join(dir), caDir: path.join(dir, 'ca'), dnsNames: ['meshd.istio-system.svc'] },
      { logger: captureLogs('warn').logger },
    );
    // The first response must already hold the files' services: ask once the sources have synced.
    await eventually(() => server.ready);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves ADS to a client that verifies istiod.istio-system.svc against the CA root', async () => {
    const root = await readFile(path.join(dir, 'ca', 'root-cert.pem'));
    const client = new grpc.Client(`127.0.0.1:${server.ports.secure}`, grpc.credentials.createSsl(root), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    });
    const ads = new AdsTestClient('', 'delta', sidecarNode('tls-client'), { client });
    try {
      ads.delta(TypeUrl.Cluster);
      const r = await ads.next();
      expect(r.resources.map((x) => x.name)).toContain('outbound|80||web.default.svc.cluster.local');
    } finally {
      ads.close();
    }
  });

  it('also presents the extra DNS names given with --dns-names', async () => {
    const root = await readFile(path.join(dir, 'ca', 'root-cert.pem'));
    const client = new grpc.Client(`127.0.0.1:${server.ports.secure}`, grpc.credentials.createSsl(root), {
      'grpc.ssl_target_name_override': 'meshd.istio-system.svc',
    });
    const ads = new AdsTestClient('', 'sotw', sidecarNode('tls-extra-name'), { client });
    try {
      ads.request(TypeUrl.Cluster);
      expect((await ads.next()).typeUrl).toBe(TypeUrl.Cluster);
    } finally {
      ads.close();
    }
  });

  it('refuses a client that does not trust the root', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.ports.secure}`, grpc.credentials.createSsl(), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
    });
    const ads = new AdsTestClient('', 'sotw', sidecarNode('untrusting'), { client });
    try {
      ads.request(TypeUrl.Cluster);
      const status = await ads.ended(10_000);
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      ads.close();
    }
  });
});
