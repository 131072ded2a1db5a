// The validators reach every path serve wires: the model of `meshd serve` in
// file mode and in Kubernetes mode rejects an invalid object of every
// validated kind, its /validate webhook denies the Istio ones with the same
// reason, and the file pipeline tests build on does too (the table, the
// model, `meshctl analyze` and the golden-mesh helper: test/model/kindValidators.test.ts).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Rejection } from '../../src/model/meshModel.js';
import { serve } from '../../src/serve/index.js';
import { FakeKubeApi, type FakeResource } from '../support/fakeKubeApi.js';
import { eventually, istioCaSecret, namespace } from '../support/fakeKubeApiHelpers.js';
import { startFilePipeline } from '../support/filePipeline.js';
import { invalidSamples } from '../support/invalidObjects.js';
import { captureLogs, loopbackConfig, serveKubeMode } from '../support/meshdHarness.js';
import { admissionReview, postWebhook, type ReviewAnswer } from '../support/webhookClient.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshd-validators-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The samples not yet rejected for their reason (empty once every one is). */
function missed(rejections: readonly Rejection[]): string[] {
  return invalidSamples
    .filter((s) => !rejections.some((r) => r.kind === s.kind && r.name === s.object.metadata.name && r.reason.includes(s.reason)))
    .map((s) => s.kind);
}

const samplesYaml = invalidSamples.map((s) => stringify(s.object)).join('---\n');

describe('every kind is validated on every path serve wires', () => {
  it('file mode: the model rejects each sample and /validate denies the Istio ones for the same reason', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'invalid.yaml'), samplesYaml);
    const server = await serve(
      { ...loopbackConfig, configDir: dir, caDir: path.join(dir, 'ca'), dnsNames: ['127.0.0.1'], webhookPort: 0 },
      { logger: captureLogs('error').logger },
    );
    cleanups.push(() => server.close());
    await eventually(() => server.pipeline.synced, 'the file source to sync');
    expect(missed(server.pipeline.model.currentRejections())).toEqual([]);

    const ca = await readFile(path.join(dir, 'ca', 'root-cert.pem'), 'utf8');
    const istioSamples = invalidSamples.filter((s) => s.object.apiVersion.split('/')[0]!.endsWith('.istio.io'));
    expect(istioSamples.length).toBeGreaterThan(0);
    for (const s of istioSamples) {
      const [group, version] = s.object.apiVersion.split('/') as [string, string];
      const review = admissionReview({ kind: { group, version, kind: s.object.kind }, namespace: 'shop', name: s.object.metadata.name, object: s.object });
      const { response } = (await postWebhook(server.ports.webhook!, '/validate', review, { ca })).json as ReviewAnswer;
      expect(response.allowed, s.kind).toBe(false);
      expect(response.status?.message, s.kind).toContain(s.reason);
    }
  });

  it('Kubernetes mode: the model rejects each sample the API server holds', async () => {
    const gatewayApi = (plural: string, kind: string, versions: string[], namespaced = true): FakeResource => ({
      group: 'gateway.networking.k8s.io',
      versions,
      plural,
      kind,
      namespaced,
      custom: true,
    });
    const api = await FakeKubeApi.start({
      extraResources: [
        gatewayApi('gatewayclasses', 'GatewayClass', ['v1', 'v1beta1'], false),
        gatewayApi('gateways', 'Gateway', ['v1', 'v1beta1']),
        gatewayApi('httproutes', 'HTTPRoute', ['v1', 'v1beta1']),
        gatewayApi('grpcroutes', 'GRPCRoute', ['v1']),
        gatewayApi('referencegrants', 'ReferenceGrant', ['v1beta1']),
      ],
    });
    cleanups.push(() => api.close());
    api.apply(namespace('istio-system'));
    api.apply(namespace('shop'));
    api.apply(istioCaSecret());
    for (const { object } of invalidSamples) api.apply({ ...structuredClone(object), metadata: { ...object.metadata } });
    const server = await serveKubeMode(api, cleanups, {
      logger: captureLogs('error').logger,
      token: 'meshd',
      config: { debounceAfterMs: 20, debounceMaxMs: 200 },
    });
    await eventually(() => missed(server.pipeline.model.currentRejections()).length === 0 || undefined, 'every sample rejected');
    expect(missed(server.pipeline.model.currentRejections())).toEqual([]);
  });

  it('the file pipeline helper: its model rejects each sample', async () => {
    const mesh = await startFilePipeline({ 'invalid.yaml': samplesYaml });
    cleanups.push(() => mesh.stop());
    expect(missed(mesh.pipeline.model.currentRejections())).toEqual([]);
  });
});
