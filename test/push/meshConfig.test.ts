// The mesh config (ConfigMap `istio` in istio-system, key `mesh`) sets the
// mesh-wide outboundTrafficPolicy; editing it re-pushes LDS and RDS to the
// sidecars whose policy it changes, and an invalid edit keeps the last one.
import { afterEach, describe, expect, it } from 'vitest';
import { changeImpact } from '../../src/push/changes.js';
import type { ModelChange } from '../../src/model/meshModel.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { waitFor } from '../support/captureLogger.js';
import { startFilePipeline } from '../support/filePipeline.js';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';

const meshConfig = (body: string, namespace = 'istio-system') => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: ${namespace}}
data:
  mesh: |-
${body
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`;
const registryOnly = meshConfig('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY');
const mesh = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: pinned}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}
`;
const shopClient = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client-1', namespace: 'shop', labels: { app: 'client' } } });
const pinnedClient = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pinned-1', namespace: 'pinned', labels: { app: 'pinned' } } });
const typeNames = (types: ReadonlySet<string> | 'all' | undefined) =>
  types === 'all' || !types ? types : [...types].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort();

function configMapChange(namespace: string, name = 'istio'): ModelChange {
  return { kind: 'ConfigMap', namespace, name, current: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace } } };
}

describe('mesh config outboundTrafficPolicy', () => {
  const allowAny = meshFromYaml(mesh).context;
  const blocking = meshFromYaml(`${mesh}---\n${registryOnly}`).context;

  it('is the default of every scope; a Sidecar that sets its own keeps it', () => {
    expect(allowAny.scopeFor(shopClient).outboundTrafficPolicy).toBe('ALLOW_ANY');
    expect(blocking.scopeFor(shopClient).outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    expect(blocking.scopeFor(pinnedClient).outboundTrafficPolicy).toBe('ALLOW_ANY');
    // istiod replaces the default whole: a policy without mode is the proto's zero value.
    expect(meshFromYaml(`${mesh}---\n${meshConfig('outboundTrafficPolicy: {}')}`).context.scopeFor(shopClient).outboundTrafficPolicy).toBe('REGISTRY_ONLY');
  });

  it('a change of it pushes LDS and RDS to the sidecars whose policy changed', () => {
    const impact = changeImpact(configMapChange('istio-system'), allowAny, blocking);
    expect(typeNames(impact.types)).toEqual(['Listener', 'RouteConfiguration']);
    expect([impact.affects!(shopClient), impact.affects!(pinnedClient)]).toEqual([true, false]);
  });

  it('pushes nothing for an unchanged policy or a ConfigMap that is not the mesh config', () => {
    expect(typeNames(changeImpact(configMapChange('istio-system'), blocking, blocking).types)).toEqual([]);
    expect(typeNames(changeImpact(configMapChange('shop'), allowAny, blocking).types)).toEqual([]);
    expect(typeNames(changeImpact(configMapChange('istio-system', 'other'), allowAny, blocking).types)).toEqual([]);
  });
});

describe('mesh config through the pipeline', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('an edited mesh config re-pushes the catch-all; an invalid edit is rejected and the last valid one stays', async () => {
    const { pipeline, pushes, lines, replace, stop } = await startFilePipeline({ 'mesh.yaml': mesh });
    cleanups.push(stop);
    // Replaced whole, so the file source never sees a truncated file (which would delete the ConfigMap).
    const replaceMeshConfig = (text: string) => replace('istio.yaml', text);
    const lds = { typeUrl: TypeUrl.Listener, wildcard: false, names: new Set(['virtualOutbound']) };
    const request = { version: 'v', reason: [], startedAt: 0 };
    const catchAll = () => {
      const [listener] = pipeline.generator.generate(shopClient, lds, request)!;
      const chains = decodeAnyToJson(listener!.any).filterChains as { name: string; filters: { typedConfig: { cluster: string } }[] }[];
      return chains.find((c) => c.name === 'virtualOutbound-catchall-tcp')!.filters[0]!.typedConfig.cluster;
    };
    expect(catchAll()).toBe('PassthroughCluster');

    await replaceMeshConfig(registryOnly);
    await waitFor(() => pushes.length === 1, 'the mesh config push');
    expect(typeNames(pushes[0]!.types)).toEqual(['Listener', 'RouteConfiguration']);
    expect([pushes[0]!.affects!(shopClient), pushes[0]!.affects!(pinnedClient)]).toEqual([true, false]);
    expect(catchAll()).toBe('BlackHoleCluster');

    await replaceMeshConfig(meshConfig('outboundTrafficPolicy:\n  mode: DENY_ALL'));
    await waitFor(() => lines.some((l) => String(l.msg).includes('rejected invalid ConfigMap istio-system/istio')), 'the rejection');
    expect(lines.find((l) => String(l.msg).includes('rejected invalid ConfigMap'))!.reason).toContain(
      'outboundTrafficPolicy.mode: "DENY_ALL" is not one of REGISTRY_ONLY, ALLOW_ANY',
    );
    expect(pushes).toHaveLength(1);
    expect(catchAll()).toBe('BlackHoleCluster');
  });
});
