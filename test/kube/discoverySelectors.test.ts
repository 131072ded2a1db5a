// MeshConfig discoverySelectors (ConfigMap istio/istio-system, key mesh),
// applied by the Kubernetes source the way istiod applies them.
import { afterEach, describe, expect, it } from 'vitest';
import { compileLabelSelector } from '../../src/sources/kube/labelSelector.js';
import { parseMeshConfigMap } from '../../src/sources/kube/meshConfig.js';
import { KubeSource } from '../../src/sources/kube/kubeSource.js';
import { FakeKubeApi } from '../support/fakeKubeApi.js';
import { RecordingSink, captureLogger, eventually, meshConfigMap, namespace, service, virtualService } from '../support/fakeKubeApiHelpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(seed: (api: FakeKubeApi) => void) {
  const api = await FakeKubeApi.start();
  cleanups.push(() => api.close());
  seed(api);
  const sink = new RecordingSink();
  const log = captureLogger();
  const source = new KubeSource({ kubeConfig: api.kubeConfig(), logger: log.logger, backoff: { initialMs: 20, maxMs: 200 } });
  cleanups.push(() => source.stop());
  await source.start(sink.sink);
  return { api, sink, log, source };
}

function seedMesh(api: FakeKubeApi, meshYaml: string): void {
  api.apply(namespace('istio-system'));
  api.apply(service('istio-system', 'web'));
  api.apply(meshConfigMap(meshYaml));
  api.apply(namespace('shop', { mesh: 'on' }));
  api.apply(namespace('legacy'));
  for (const ns of ['shop', 'legacy']) {
    api.apply(service(ns, 'web'));
    api.apply(virtualService(ns, 'web', `web.${ns}.svc.cluster.local`));
  }
}

describe('label selectors', () => {
  it('match like Kubernetes: all requirements of one selector, every operator', () => {
    const compiled = compileLabelSelector({
      matchLabels: { team: 'a' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'stage'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'mesh', operator: 'Exists' },
      ],
    });
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.matches({ team: 'a', env: 'prod', mesh: '' })).toBe(true);
    expect(compiled.matches({ team: 'a', env: 'dev', mesh: '' })).toBe(false);
    expect(compiled.matches({ team: 'a', env: 'prod', mesh: '', legacy: 'y' })).toBe(false);
    expect(compiled.matches({ team: 'a', env: 'prod', mesh: '', tier: 'db' })).toBe(false);
    expect(compiled.matches({ team: 'a', env: 'prod' })).toBe(false);
    const empty = compileLabelSelector({});
    expect(empty.ok && empty.matches({})).toBe(true);
  });

  it('reject invalid requirements with the field and reason', () => {
    expect(compileLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] })).toEqual({
      ok: false,
      error: expect.stringMatching(/^matchExpressions\[0\]: operator: "Equals" is not a valid/),
    });
    expect(compileLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toMatchObject({
      ok: false,
      error: expect.stringContaining('non-empty'),
    });
    const config = parseMeshConfigMap({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio' },
      data: { mesh: 'discoverySelectors: [{matchLabels: {a: 1}}]' },
    });
    expect(config).toEqual({ ok: false, error: 'discoverySelectors[0]: matchLabels.a: must be a string' });
  });
});

describe('discoverySelectors in the Kubernetes source', () => {
  it('delivers everything when the mesh config has no selectors', async () => {
    const { sink } = await start((api) => seedMesh(api, 'trustDomain: cluster.local\n'));
    expect(sink.has('Service', 'legacy', 'web')).toBe(true);
    expect(sink.has('VirtualService', 'shop', 'web')).toBe(true);
  });

  it('delivers only namespaced objects of selected namespaces, plus cluster-scoped objects and the mesh config', async () => {
    const { sink } = await start((api) => seedMesh(api, 'discoverySelectors:\n- matchLabels: {mesh: "on"}\n'));
    expect(sink.has('Service', 'shop', 'web')).toBe(true);
    expect(sink.has('VirtualService', 'shop', 'web')).toBe(true);
    expect(sink.has('Service', 'legacy', 'web')).toBe(false);
    expect(sink.has('VirtualService', 'legacy', 'web')).toBe(false);
    expect(sink.has('Namespace', '', 'shop')).toBe(true);
    expect(sink.has('Namespace', '', 'legacy')).toBe(false);
    expect(sink.has('ConfigMap', 'istio-system', 'istio')).toBe(true);
  });

  it('ORs the selectors and supports matchExpressions', async () => {
    const { sink } = await start((api) => {
      seedMesh(
        api,
        'discoverySelectors:\n- matchLabels: {mesh: "on"}\n- matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [legacy]}]\n',
      );
    });
    expect(sink.has('Service', 'shop', 'web')).toBe(true);
    expect(sink.has('Service', 'legacy', 'web')).toBe(true);
    expect(sink.has('Service', 'istio-system', 'web')).toBe(false);
  });

  it('follows namespace label changes: newly selected namespaces appear, deselected ones are deleted', async () => {
    const { api, sink } = await start((api) => seedMesh(api, 'discoverySelectors:\n- matchLabels: {mesh: "on"}\n'));
    api.apply(namespace('legacy', { mesh: 'on' }));
    await eventually(() => sink.has('Service', 'legacy', 'web') && sink.has('VirtualService', 'legacy', 'web'), 'legacy selected');
    expect(sink.has('Namespace', '', 'legacy')).toBe(true);
    api.apply(namespace('shop', {}));
    await eventually(() => !sink.has('Service', 'shop', 'web'), 'shop deselected');
    expect(sink.has('VirtualService', 'shop', 'web')).toBe(false);
    expect(sink.has('Namespace', '', 'shop')).toBe(false);
    // Objects created later in a deselected namespace stay out; in a selected one they flow.
    api.apply(service('shop', 'late'));
    api.apply(service('legacy', 'late'));
    await eventually(() => sink.has('Service', 'legacy', 'late'), 'late service in selected namespace');
    expect(sink.has('Service', 'shop', 'late')).toBe(false);
  });

  it('follows mesh config changes, and keeps the last good selectors when the mesh config is invalid', async () => {
    const { api, sink, log } = await start((api) => seedMesh(api, 'discoverySelectors:\n- matchLabels: {mesh: "on"}\n'));
    api.apply(meshConfigMap('discoverySelectors: []\n'));
    await eventually(() => sink.has('Service', 'legacy', 'web'), 'all namespaces after selectors removed');
    api.apply(meshConfigMap('discoverySelectors:\n- matchLabels: {mesh: "on"}\n'));
    await eventually(() => !sink.has('Service', 'legacy', 'web'), 'legacy dropped again');
    api.apply(meshConfigMap('discoverySelectors:\n- matchExpressions: [{key: mesh, operator: Sometimes}]\n'));
    const line = await eventually(() => log.lines.find((l) => l.name === 'istio' && l.kind === 'ConfigMap' && l.level === 50), 'rejection logged');
    expect(line.msg).toContain('istio-system/istio');
    expect(line.reason).toMatch(/discoverySelectors\[0\]: matchExpressions\[0\]: operator: "Sometimes"/);
    // Still filtering with the previous selectors.
    api.apply(service('legacy', 'after-bad-config'));
    api.apply(service('shop', 'after-bad-config'));
    await eventually(() => sink.has('Service', 'shop', 'after-bad-config'), 'selected namespace still flows');
    expect(sink.has('Service', 'legacy', 'after-bad-config')).toBe(false);
  });
});
